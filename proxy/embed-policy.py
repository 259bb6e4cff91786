#!/usr/bin/env python3
# Embeds proxy/default.policy in the binary, so the proxy runs from the build
# tree or any install prefix with its default policy.
# usage: embed-policy.py INPUT OUTPUT.c
import sys

with open(sys.argv[1], encoding='utf-8') as f:
    text = f.read()
lines = ['/* Generated from %s by proxy/embed-policy.py. */' % sys.argv[1].split('/')[-1],
         'const char vd_default_policy[] =']
for line in text.splitlines(keepends=True):
    esc = line.replace('\\', '\\\\').replace('"', '\\"').replace('\n', '\\n')
    lines.append('\t"%s"' % esc)
lines.append(';')
with open(sys.argv[2], 'w', encoding='utf-8') as f:
    f.write('\n'.join(lines) + '\n')
