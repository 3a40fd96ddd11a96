/* The child of the exec storm (test/bench/storm-load.c): built static, exits at once. */
int main(void)
{
	return 0;
}
