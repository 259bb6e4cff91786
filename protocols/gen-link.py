#!/usr/bin/env python3
# Generate the vmdesk link codec from its one description, protocols/link.xml.
#
# usage: gen-link.py link.xml OUT.h OUT.c OUT.py
#
#   OUT.h   constants, enums, message types, one struct per message, and the
#           union of them all (included by protocols/link.h)
#   OUT.c   the tables protocols/link.c interprets to decode, check and encode
#   OUT.py  the same tables with a small interpreter: the Python codec of the
#           tests (tests never write a frame layout by hand)
#
# Nothing about a message is written anywhere else: adding one is a
# <message> element here, and a handler where it is used.
import sys
import xml.etree.ElementTree as ET

NUMBER_KINDS = {'u8': 1, 'u16': 2, 'u32': 4, 'u64': 8}
C_NUMBER = {'u8': 'uint8_t', 'u16': 'uint16_t', 'u32': 'uint32_t', 'u64': 'uint64_t'}
KIND_LIMIT = {'u8': 0xff, 'u16': 0xffff, 'u32': 0xffffffff, 'u64': 0xffffffffffffffff}
# Message names that would clash with the runtime's own types (protocols/link.h).
RESERVED = {'msg', 'set', 'field', 'message', 'buf', 'reader', 'frame', 'header', 'conn',
            'body', 'kind', 'config', 'impl'}
STRING_CHECKS = {'text', 'mtext', 'vm_name', 'domain_or_empty', 'desktop_id', 'env_name',
                 'categories', 'icon_name', 'mime'}


def die(msg):
    sys.exit('gen-link.py: ' + msg)


def num(s, what):
    try:
        return int(s, 0)
    except (TypeError, ValueError):
        die('%s: not a number: %r' % (what, s))


class Field:
    def __init__(self, el, owner):
        self.name = el.get('name')
        self.type = el.get('type')
        self.owner = owner  # C struct name prefix of the enclosing struct
        where = '%s.%s' % (owner, self.name)
        if not self.name or not self.name.isidentifier():
            die('%s: bad field name' % where)
        if self.type not in NUMBER_KINDS and self.type not in ('string', 'data', 'array'):
            die('%s: unknown type %s' % (where, self.type))
        self.summary = el.get('summary', '')
        self.enum = el.get('enum')
        self.bitfield = el.get('bitfield')
        self.check = el.get('check')
        if self.check is not None and (self.type != 'string' or self.check not in STRING_CHECKS):
            die('%s: check=%s only for strings, one of %s' % (where, self.check,
                                                             sorted(STRING_CHECKS)))
        self.length_size = 2
        if el.get('length') == 'u32' or el.get('count') == 'u32' or self.type == 'data':
            self.length_size = 4
        limit = KIND_LIMIT.get(self.type, 0xffffffff if self.length_size == 4 else 0xffff)
        self.min = num(el.get('min', '0'), where)
        self.max = num(el.get('max', str(limit)), where)
        if self.min > self.max or self.max > limit:
            die('%s: bad range %d..%d' % (where, self.min, self.max))
        self.items = []
        self.item_struct = None
        if self.type == 'array':
            self.items = [Field(f, '%s_%s' % (owner, self.name)) for f in el.findall('field')]
            if not self.items:
                die('%s: an array needs item fields' % where)
            if any(i.type == 'array' for i in self.items):
                die('%s: arrays do not nest' % where)
            if len(self.items) > 1:
                self.item_struct = 'vd_link_%s_%s' % (owner, self.name)

    def c_type(self):
        if self.type in C_NUMBER:
            return C_NUMBER[self.type]
        if self.type == 'string':
            return 'const char *'
        if self.type == 'data':
            return 'const uint8_t *'
        if self.item_struct:
            return 'struct %s *' % self.item_struct
        return self.items[0].c_type() + '*'


class Message:
    def __init__(self, el, set_name, known):
        self.name = el.get('name')
        self.type = num(el.get('type'), 'message %s type' % self.name)
        self.sender = el.get('from')
        self.cap = el.get('cap')
        self.check = el.get('check')
        self.set_name = set_name
        if not self.name or not self.name.isidentifier() or self.name in RESERVED:
            die('bad message name %r' % self.name)
        self.fields = []
        for child in el:
            if child.tag == 'field':
                self.fields.append(Field(child, self.name))
            elif child.tag == 'copy':
                src = known.get(child.get('message'))
                if src is None:
                    die('%s: copy of unknown message %s' % (self.name, child.get('message')))
                self.fields.extend(src.fields)
        names = [f.name for f in self.fields]
        if len(set(names)) != len(names):
            die('%s: duplicate field names' % self.name)
        # bulk: the last field's bytes may be read straight to where they belong
        # (link.md, "Bulk data"); the fields before it have a fixed size
        self.bulk = el.get('bulk') == 'true'
        if self.bulk and (not self.fields or self.fields[-1].type != 'data' or
                          any(f.type not in NUMBER_KINDS for f in self.fields[:-1])):
            die('%s: bulk="true" needs numbers, then one data field last' % self.name)


class Set:
    def __init__(self, el, sets, known):
        self.name = el.get('name')
        self.id = num(el.get('id'), 'set id')
        self.roles = el.get('roles', 'a b').split()
        self.first = num(el.get('first'), 'set first')
        self.last = num(el.get('last'), 'set last')
        self.max_frame = num(el.get('max_frame', '65536'), 'set max_frame')
        self.caps = [(c.get('name'), num(c.get('bit'), 'cap bit')) for c in el.findall('cap')]
        self.own = []
        for m in el.findall('message'):
            msg = Message(m, self.name, known)
            if not self.first <= msg.type <= self.last:
                die('%s: type 0x%04x outside set %s' % (msg.name, msg.type, self.name))
            if msg.sender not in self.roles + ['both']:
                die('%s: from=%s is not a role of set %s' % (msg.name, msg.sender, self.name))
            if msg.cap is not None and msg.cap not in [c[0] for c in self.caps]:
                die('%s: unknown capability %s' % (msg.name, msg.cap))
            if msg.name in known:
                die('message %s defined twice' % msg.name)
            known[msg.name] = msg
            self.own.append(msg)
        include = el.get('include')
        self.messages = list(self.own)
        if include:
            self.messages = sets[include].own + self.messages
        types = [m.type for m in self.messages]
        if len(set(types)) != len(types):
            die('set %s: duplicate message types' % self.name)
        self.messages.sort(key=lambda m: m.type)


def load(path):
    root = ET.parse(path).getroot()
    if root.tag != 'link':
        die('%s: not a link description' % path)
    constants = [(c.get('name'), num(c.get('value'), c.get('name')), c.get('summary', ''))
                 for c in root.findall('constant')]
    enums = {}
    for tag in ('enum', 'bitfield'):
        for e in root.findall(tag):
            entries = [(x.get('name'), num(x.get('value'), x.get('name')), x.get('summary', ''))
                       for x in e.findall('entry')]
            enums[e.get('name')] = (tag, entries)
    sets = {}
    known = {}
    for s in root.findall('set'):
        sets[s.get('name')] = Set(s, sets, known)
    ranges = sorted((s.first, s.last, s.name) for s in sets.values())
    for a, b in zip(ranges, ranges[1:]):
        if b[0] <= a[1]:
            die('sets %s and %s share message types' % (a[2], b[2]))
    for m in known.values():
        for f in m.fields + [i for f in m.fields for i in f.items]:
            for ref in (f.enum, f.bitfield):
                if ref is not None and ref not in enums:
                    die('%s.%s: unknown enum %s' % (m.name, f.name, ref))
    return constants, enums, sets, known


def tag_check(enums, known):
    clash = set(enums) & set(known)
    if clash:
        die('enum and message share a C tag: %s' % ', '.join(sorted(clash)))


def ident_check(names):
    seen = set()
    for n in names:
        if n in seen:
            die('identifier %s generated twice' % n)
        seen.add(n)


# ---- C header ----

def gen_header(constants, enums, sets, known):
    out = ['/* Generated by protocols/gen-link.py from protocols/link.xml. Do not edit. */',
           '#ifndef VD_LINK_GENERATED_H', '#define VD_LINK_GENERATED_H', '',
           '#include <stdbool.h>', '#include <stddef.h>', '#include <stdint.h>', '']
    idents = []
    for name, value, summary in constants:
        ident = 'VD_LINK_' + name.upper()
        idents.append(ident)
        out.append('#define %s %du%s' % (ident, value, ' // ' + summary if summary else ''))
    out.append('')
    for ename, (tag, entries) in enums.items():
        out.append('enum vd_link_%s {' % ename)
        mask = 0
        for n, v, summary in entries:
            ident = 'VD_LINK_%s_%s' % (ename.upper(), n.upper())
            idents.append(ident)
            out.append('\t%s = 0x%x,%s' % (ident, v, ' // ' + summary if summary else ''))
            mask |= v
        out.append('};')
        if tag == 'bitfield':
            out.append('#define VD_LINK_%s_ALL 0x%xu' % (ename.upper(), mask))
        out.append('')
    for s in sets.values():
        if s.caps:
            out.append('/* capabilities of the %s set */' % s.name)
            out.append('enum vd_link_%s_cap {' % s.name)
            for n, bit in s.caps:
                ident = 'VD_LINK_CAP_' + n.upper()
                idents.append(ident)
                out.append('\t%s = 0x%x,' % (ident, bit))
            out.append('};')
            out.append('#define VD_LINK_%s_CAPS_ALL 0x%xu' % (s.name.upper(),
                                                             sum(b for _, b in s.caps)))
            out.append('/* the roles of the %s set: a link end is one of them */' % s.name)
            for i, r in enumerate(s.roles):
                out.append('#define VD_LINK_ROLE_%s %d' % (r.upper(), i))
            out.append('')
    out.append('enum vd_link_type {')
    for m in sorted(known.values(), key=lambda m: m.type):
        ident = 'VD_LINK_' + m.name.upper()
        idents.append(ident)
        out.append('\t%s = 0x%04x, // %s set, from %s' % (ident, m.type, m.set_name, m.sender))
    out.append('};')
    out.append('')
    ident_check(idents)
    done = set()
    for m in known.values():
        for f in m.fields:
            if f.item_struct and f.item_struct not in done:
                done.add(f.item_struct)
                out.append('struct %s {' % f.item_struct)
                for i in f.items:
                    out.extend(c_members(i))
                out.append('};')
                out.append('')
        out.append('struct vd_link_%s {' % m.name)
        members = []
        for f in m.fields:
            members.extend(c_members(f))
        out.extend(members or ['\tchar empty; // no fields'])
        out.append('};')
        out.append('')
    out.append('union vd_link_body {')
    for m in known.values():
        out.append('\tstruct vd_link_%s %s;' % (m.name, m.name))
    out.append('};')
    out.append('')
    out.append('struct vd_link_set;')
    for s in sets.values():
        if s.roles != ['a', 'b']:
            out.append('extern const struct vd_link_set vd_link_%s;' % s.name)
    out.append('')
    out.append('/* Rules on one string field (protocols/link-checks.c). */')
    for c in sorted(STRING_CHECKS):
        out.append('bool vd_link_check_%s(const char *s, size_t len);' % c)
    out.append('/* Rules across the fields of one message (protocols/link-checks.c). */')
    for c in sorted({m.check for m in known.values() if m.check}):
        out.append('bool vd_link_check_msg_%s(const void *body, char *err, size_t err_size);' % c)
    out.append('')
    out.append('#endif')
    return '\n'.join(out) + '\n'


def c_members(f):
    if f.type == 'data':
        return ['\tconst uint8_t *%s;' % f.name, '\tuint32_t %s_len;' % f.name]
    if f.type == 'array':
        return ['\tuint32_t %s_count;' % f.name, '\t%s%s;' % (f.c_type(), f.name)]
    ctype = f.c_type()
    sep = '' if ctype.endswith('*') else ' '
    return ['\t%s%s%s;%s' % (ctype, sep, f.name, ' // ' + f.summary if f.summary else '')]


# ---- C tables ----

C_KIND = {'u8': 'VD_LINK_FIELD_U8', 'u16': 'VD_LINK_FIELD_U16', 'u32': 'VD_LINK_FIELD_U32',
          'u64': 'VD_LINK_FIELD_U64', 'string': 'VD_LINK_FIELD_STRING',
          'data': 'VD_LINK_FIELD_DATA', 'array': 'VD_LINK_FIELD_ARRAY'}


def c_str(s):
    return '"' + s.replace('\\', '\\\\').replace('"', '\\"') + '"'


def gen_tables(constants, enums, sets, known):
    out = ['/* Generated by protocols/gen-link.py from protocols/link.xml. Do not edit. */',
           '#include <stdbool.h>', '#include <stddef.h>', '#include <stdint.h>', '',
           '#include "protocols/link.h"', '']
    for ename, (tag, entries) in enums.items():
        if tag == 'enum':
            out.append('static const uint32_t values_%s[] = {%s};' % (
                ename, ', '.join(str(v) for _, v, _ in entries)))
    out.append('')
    emitted = set()

    def field_init(f, struct):
        parts = ['.name = %s' % c_str(f.name), '.kind = %s' % C_KIND[f.type],
                 '.length_size = %d' % f.length_size]
        if struct is None:
            parts.append('.offset = 0')
        else:
            parts.append('.offset = offsetof(struct %s, %s)' % (struct, f.name))
            if f.type == 'data':
                parts.append('.count_offset = offsetof(struct %s, %s_len)' % (struct, f.name))
            elif f.type == 'array':
                parts.append('.count_offset = offsetof(struct %s, %s_count)' % (struct, f.name))
        parts.append('.min = %dull' % f.min)
        parts.append('.max = %dull' % f.max)
        if f.enum:
            parts.append('.values = values_%s' % f.enum)
            parts.append('.nvalues = sizeof(values_%s) / sizeof(values_%s[0])' % (f.enum, f.enum))
        if f.bitfield:
            parts.append('.mask = VD_LINK_%s_ALL' % f.bitfield.upper())
        if f.check:
            parts.append('.check = vd_link_check_%s' % f.check)
        if f.type == 'array':
            parts.append('.items = items_%s_%s' % (f.owner, f.name))
            parts.append('.nitems = %d' % len(f.items))
            if f.item_struct:
                parts.append('.item_size = sizeof(struct %s)' % f.item_struct)
            else:
                parts.append('.item_size = sizeof(%s)' % f.items[0].c_type())
        return '{' + ', '.join(parts) + '}'

    for m in known.values():
        for f in m.fields:
            if f.type == 'array' and (f.owner, f.name) not in emitted:
                emitted.add((f.owner, f.name))
                out.append('static const struct vd_link_field items_%s_%s[] = {' % (f.owner,
                                                                                  f.name))
                for i in f.items:
                    out.append('\t' + field_init(i, f.item_struct) + ',')
                out.append('};')
        if m.fields:
            out.append('static const struct vd_link_field fields_%s[] = {' % m.name)
            for f in m.fields:
                out.append('\t' + field_init(f, 'vd_link_' + m.name) + ',')
            out.append('};')
        out.append('')
    for s in sets.values():
        if s.roles == ['a', 'b']:
            continue
        out.append('static const struct vd_link_message messages_%s[] = {' % s.name)
        caps = dict(s.caps)
        for m in s.messages:
            senders = 3 if m.sender == 'both' else 1 << s.roles.index(m.sender)
            parts = ['.type = 0x%04x' % m.type, '.name = %s' % c_str(m.name.upper()),
                     '.senders = %d' % senders, '.cap = 0x%x' % caps.get(m.cap, 0),
                     '.size = sizeof(struct vd_link_%s)' % m.name]
            if m.fields:
                parts.append('.fields = fields_%s' % m.name)
                parts.append('.nfields = %d' % len(m.fields))
            if m.check:
                parts.append('.check = vd_link_check_msg_%s' % m.check)
            if m.bulk:
                parts.append('.bulk = true')
            out.append('\t{' + ', '.join(parts) + '},')
        out.append('};')
        out.append('')
        out.append('const struct vd_link_set vd_link_%s = {' % s.name)
        out.append('\t.name = %s,' % c_str(s.name))
        out.append('\t.id = %d,' % s.id)
        out.append('\t.roles = {%s, %s},' % (c_str(s.roles[0]), c_str(s.roles[1])))
        out.append('\t.first = 0x%04x,' % s.first)
        out.append('\t.last = 0x%04x,' % s.last)
        out.append('\t.max_frame = %du,' % s.max_frame)
        out.append('\t.caps = 0x%xu,' % sum(b for _, b in s.caps))
        out.append('\t.messages = messages_%s,' % s.name)
        out.append('\t.count = sizeof(messages_%s) / sizeof(messages_%s[0]),' % (s.name, s.name))
        out.append('};')
        out.append('')
    return '\n'.join(out)


# ---- Python ----

PY_RUNTIME = r'''
SYNC = b"\xff\xff\xff\xffVDSYNC\r\n"


class LinkError(Exception):
    """A frame or payload the C decoder would refuse."""


def _utf8_cps(b):
    try:
        s = b.decode("utf-8", errors="strict")
    except UnicodeDecodeError:
        raise LinkError("invalid UTF-8")
    if any(0xD800 <= ord(c) <= 0xDFFF for c in s):
        raise LinkError("surrogate")
    return [ord(c) for c in s]


def _deceptive(cp):
    return (0x202A <= cp <= 0x202E or 0x2066 <= cp <= 0x2069 or cp in (0x200E, 0x200F, 0x061C,
            0x2028, 0x2029, 0xFEFF) or 0xFFF9 <= cp <= 0xFFFB or 0xFDD0 <= cp <= 0xFDEF
            or (cp & 0xFFFE) == 0xFFFE)


def text_valid(b, newlines=False):
    for cp in _utf8_cps(b):
        if cp < 0x20 or 0x7F <= cp <= 0x9F:
            if not (newlines and cp in (9, 10)):
                return False
        elif _deceptive(cp):
            return False
    return True


def _chars(b, extra):
    return all(chr(c).isascii() and (chr(c).isalnum() or chr(c) in extra) for c in b)


def vm_name_valid(b):
    return (0 < len(b) <= 32 and 0x61 <= b[0] <= 0x7A and b != b"host"
            and all(0x61 <= c <= 0x7A or 0x30 <= c <= 0x39 or c == 0x2D for c in b))


def desktop_id_valid(b):
    return (8 < len(b) <= 255 and b.endswith(b".desktop") and b[:1] not in (b".", b"-")
            and b".." not in b and _chars(b, "._-"))


ENV_NAMES = {b"LANG", b"LANGUAGE", b"LC_ALL", b"LC_ADDRESS", b"LC_COLLATE", b"LC_CTYPE",
             b"LC_IDENTIFICATION", b"LC_MEASUREMENT", b"LC_MESSAGES", b"LC_MONETARY",
             b"LC_NAME", b"LC_NUMERIC", b"LC_PAPER", b"LC_TELEPHONE", b"LC_TIME", b"TZ",
             b"NO_COLOR", b"COLUMNS", b"LINES"}


def _check(name, b):
    if name == "text":
        return text_valid(b)
    if name == "mtext":
        return text_valid(b, newlines=True)
    if name == "vm_name":
        return vm_name_valid(b)
    if name == "domain_or_empty":
        return b in (b"", b"host") or vm_name_valid(b)
    if name == "desktop_id":
        return desktop_id_valid(b)
    if name == "env_name":
        return b in ENV_NAMES
    if name == "categories":
        return _chars(b, ";_-")
    if name == "icon_name":
        return _chars(b, "._-")
    if name == "mime":
        return 0 < len(b) <= 255 and all(0x20 <= c <= 0x7E for c in b) and b[:1] != b" " \
            and b[-1:] != b" "
    raise LinkError("unknown check " + name)


_NUM = {"u8": "<B", "u16": "<H", "u32": "<I", "u64": "<Q"}
_LEN = {2: "<H", 4: "<I"}


def _enc_field(f, value):
    name, kind, lsize, lo, hi, allowed, mask, check, items = f
    if kind in _NUM:
        value = int(value)
        return struct.pack(_NUM[kind], value)
    if kind == "string":
        if isinstance(value, str):
            value = value.encode()
        return struct.pack(_LEN[lsize], len(value)) + value + b"\0"
    if kind == "data":
        return struct.pack("<I", len(value)) + bytes(value)
    out = struct.pack(_LEN[lsize], len(value))
    for item in value:
        if len(items) == 1:
            out += _enc_field(items[0], item)
        else:
            if isinstance(item, dict):
                item = [item[i[0]] for i in items]
            for i, v in zip(items, item):
                out += _enc_field(i, v)
    return out


def _dec_field(f, buf, pos):
    name, kind, lsize, lo, hi, allowed, mask, check, items = f

    def need(n):
        if len(buf) - pos < n:
            raise LinkError("truncated " + name)

    if kind in _NUM:
        size = struct.calcsize(_NUM[kind])
        need(size)
        (v,) = struct.unpack_from(_NUM[kind], buf, pos)
        if not lo <= v <= hi:
            raise LinkError("%s %d out of range" % (name, v))
        if allowed is not None and v not in allowed:
            raise LinkError("%s: unknown value %d" % (name, v))
        if mask is not None and v & ~mask:
            raise LinkError("%s: unknown bits" % name)
        return v, pos + size
    need(lsize)
    (n,) = struct.unpack_from(_LEN[lsize], buf, pos)
    pos += lsize
    if kind == "array":
        if not lo <= n <= hi:
            raise LinkError("%s: count %d out of range" % (name, n))
        out = []
        for _ in range(n):
            if len(items) == 1:
                v, pos = _dec_field(items[0], buf, pos)
            else:
                v = {}
                for i in items:
                    v[i[0]], pos = _dec_field(i, buf, pos)
            out.append(v)
        return out, pos
    if not lo <= n <= hi:
        raise LinkError("%s: length %d out of range" % (name, n))
    if kind == "data":
        need(n)
        return bytes(buf[pos:pos + n]), pos + n
    need(n + 1)
    s = bytes(buf[pos:pos + n])
    if buf[pos + n] != 0 or b"\0" in s:
        raise LinkError("%s: NUL" % name)
    if check is not None and not _check(check, s):
        raise LinkError("%s: fails %s" % (name, check))
    return s, pos + n + 1


def frame(msg_type, payload=b"", msg_id=0, flags=0, length=None):
    """One frame; length and flags can lie on purpose."""
    if length is None:
        length = len(payload)
    return struct.pack("<IHHI", length, msg_type, flags, msg_id) + payload


def payload(set_name, msg_name, /, **fields):
    """The payload of message msg_name of a set, from keyword fields (missing: 0/empty)."""
    msg = SETS[set_name]["by_name"][msg_name]
    out = b""
    for f in msg[3]:
        kind = f[1]
        default = 0 if kind in _NUM else (b"" if kind in ("string", "data") else [])
        out += _enc_field(f, fields.get(f[0], default))
    return out


def encode(set_name, msg_name, /, msg_id=0, **fields):
    """A whole frame of message msg_name (a message of set_name)."""
    msg = SETS[set_name]["by_name"][msg_name]
    return frame(msg[0], payload(set_name, msg_name, **fields), msg_id)


def decode(set_name, msg_type, data):
    """The fields of one payload as a dict; LinkError if the C decoder would refuse it
    on its field rules (rules across fields are C only)."""
    msg = SETS[set_name]["by_type"].get(msg_type)
    if msg is None:
        raise LinkError("unknown message type 0x%04x" % msg_type)
    pos = 0
    out = {}
    for f in msg[3]:
        out[f[0]], pos = _dec_field(f, data, pos)
    if pos != len(data):
        raise LinkError("%d trailing bytes" % (len(data) - pos))
    return out


def name_of(set_name, msg_type):
    msg = SETS[set_name]["by_type"].get(msg_type)
    return msg[1] if msg else None


def hello(set_name, caps=None, nonce=1, peer_nonce=0, software="test", max_frame=None,
          min_version=VERSION, max_version=VERSION):
    s = SETS[set_name]
    return SYNC + encode(set_name, "hello", magic=MAGIC, set=s["id"], min_version=min_version,
                         max_version=max_version, max_frame=max_frame or s["max_frame"],
                         caps=s["caps"] if caps is None else caps, nonce=nonce,
                         peer_nonce=peer_nonce, software=software)


class Reader:
    """Splits a byte stream into (type, id, payload) frames, skipping SYNC markers."""

    def __init__(self):
        self.buf = b""

    def feed(self, data):
        self.buf += data
        out = []
        while len(self.buf) >= HEADER_SIZE:
            if self.buf[:HEADER_SIZE] == SYNC:
                self.buf = self.buf[HEADER_SIZE:]
                continue
            length, msg_type, _flags, msg_id = struct.unpack("<IHHI", self.buf[:HEADER_SIZE])
            if len(self.buf) < HEADER_SIZE + length:
                break
            out.append((msg_type, msg_id, self.buf[HEADER_SIZE:HEADER_SIZE + length]))
            self.buf = self.buf[HEADER_SIZE + length:]
        return out
'''


def py_field(f, enums):
    allowed = None
    mask = None
    if f.enum:
        allowed = '{%s}' % ', '.join(str(v) for _, v, _ in enums[f.enum][1])
    if f.bitfield:
        mask = '0x%x' % sum(v for _, v, _ in enums[f.bitfield][1])
    items = '(%s,)' % ', '.join(py_field(i, enums) for i in f.items) if f.items else 'None'
    return '(%r, %r, %d, %d, %d, %s, %s, %r, %s)' % (f.name, f.type, f.length_size, f.min,
                                                     f.max, allowed, mask, f.check, items)


def gen_python(constants, enums, sets, known):
    out = ['"""The vmdesk link codec for test peers.', '',
           'Generated by protocols/gen-link.py from protocols/link.xml. Do not edit."""', '',
           'import struct', '']
    for name, value, _ in constants:
        out.append('%s = %d' % (name.upper(), value))
    for ename, (tag, entries) in enums.items():
        for n, v, _ in entries:
            out.append('%s_%s = %d' % (ename.upper(), n.upper(), v))
    for s in sets.values():
        for n, bit in s.caps:
            out.append('CAP_%s = %d' % (n.upper(), bit))
    for m in sorted(known.values(), key=lambda m: m.type):
        out.append('%s = 0x%04x' % (m.name.upper(), m.type))
    out.append(PY_RUNTIME)
    out.append('SETS = {}')
    for s in sets.values():
        if s.roles == ['a', 'b']:
            continue
        out.append('SETS[%r] = {"id": %d, "max_frame": %d, "caps": %d, "roles": %r, '
                   '"by_type": {}, "by_name": {}}' % (s.name, s.id, s.max_frame,
                                                     sum(b for _, b in s.caps), s.roles))
        for m in s.messages:
            fields = '[%s]' % ', '.join(py_field(f, enums) for f in m.fields)
            out.append('SETS[%r]["by_type"][0x%04x] = SETS[%r]["by_name"][%r] = '
                       '(0x%04x, %r, %r, %s)' % (s.name, m.type, s.name, m.name, m.type,
                                                  m.name, m.sender, fields))
    return '\n'.join(out) + '\n'


def main():
    if len(sys.argv) != 5:
        die('usage: gen-link.py link.xml OUT.h OUT.c OUT.py')
    constants, enums, sets, known = load(sys.argv[1])
    tag_check(enums, known)
    for path, text in ((sys.argv[2], gen_header(constants, enums, sets, known)),
                       (sys.argv[3], gen_tables(constants, enums, sets, known)),
                       (sys.argv[4], gen_python(constants, enums, sets, known))):
        with open(path, 'w') as f:
            f.write(text)


if __name__ == '__main__':
    main()
