// hsyncd: the hsync daemon. One process runs one role (DESIGN.md §1).
#include <cstdio>
#include <cstring>

int main(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        if (!std::strcmp(argv[i], "--version") || !std::strcmp(argv[i], "-V")) {
            std::printf("hsyncd 0.1.0\n");
            return 0;
        }
    }
    std::fprintf(stderr, "hsyncd: no server roles are built yet (see the open issues)\n");
    return 2;
}
