/* A payload that writes noise to the records channel the init uses (the virtio console
 * where there is one, else the serial port): a broken record, NULs, lone '%', invalid
 * UTF-8, 100 KB without a newline and pseudo-random bytes. */
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define LONG_LINE (100 * 1024)
#define RANDOM_BYTES (16 * 1024)

static void put(int fd, const void *bytes, size_t len) {
    const char *p = bytes;
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n <= 0)
            _exit(3);
        p += n;
        len -= (size_t)n;
    }
}

int main(void) {
    static char buf[LONG_LINE];
    int fd = open("/dev/hvc0", O_WRONLY | O_NOCTTY);
    if (fd < 0)
        fd = open("/dev/ttyS1", O_WRONLY | O_NOCTTY);
    if (fd < 0)
        return 2;
    put(fd, "\nSBX1 teleport to=mars\n", 23);
    put(fd, "\nSBX1 heartbeat t_ms=%zz\n", 25);
    put(fd, "SBX1 done status=ok t_ms=\0\0\n", 28);
    put(fd, "SBX1 kmsg level=% text=%\n", 25);
    put(fd, "SBX1 error where=\xff\xfe msg=\xc3\n", 27);
    memset(buf, 'x', sizeof buf);
    memcpy(buf, "SBX1 heartbeat t_ms=", 20);
    put(fd, buf, sizeof buf);
    put(fd, "\n", 1);
    unsigned int x = 12345;
    for (size_t i = 0; i < RANDOM_BYTES; i++) {
        x = x * 1103515245u + 12345u;
        buf[i] = (char)(x >> 16);
    }
    put(fd, buf, RANDOM_BYTES);
    put(fd, "\n", 1);
    return 0;
}
