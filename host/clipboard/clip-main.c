#include "host/clipboard/clip-cli.h"

int main(int argc, char *argv[]) {
	return vd_clip_cli_main(argc, argv);
}
