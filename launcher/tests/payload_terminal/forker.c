/* Prints whether its stdout is a terminal, then forks; the child exits through
 * exit() (which flushes stdio) without flushing first. On a pipe stdout is fully
 * buffered and the child replays the parent's unflushed lines; on a terminal each
 * line is written once. */
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void)
{
	printf("isatty=%d\n", isatty(1));
	printf("before fork\n");
	pid_t pid = fork();
	if (pid == 0) {
		printf("child\n");
		return 0;
	}
	waitpid(pid, NULL, 0);
	printf("parent\n");
	return 0;
}
