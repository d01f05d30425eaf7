/* A payload for tests/judging.rs, built with `cc -static`: TAP results, or lines.
 *   tapper ok|notok   TAP 1..3 with test 2 ok or not ok; exits 0 either way
 *   tapper lines N    N numbered lines of 400 bytes (no spaces: cheap to forward)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define LINE_BYTES 400

int main(int argc, char **argv) {
    const char *mode = argc > 1 ? argv[1] : "ok";
    if (strcmp(mode, "lines") == 0) {
        long n = argc > 2 ? atol(argv[2]) : 0;
        char pad[LINE_BYTES];
        memset(pad, 'x', sizeof pad);
        for (long i = 0; i < n; i++)
            printf("line-%09ld-%.*s\n", i, LINE_BYTES - 15, pad);
        return 0;
    }
    printf("TAP version 13\n1..3\n# a comment\nok 1 first\n");
    printf("%s 2 second\n", strcmp(mode, "notok") == 0 ? "not ok" : "ok");
    printf("ok 3 third # SKIP not here\n");
    return 0;
}
