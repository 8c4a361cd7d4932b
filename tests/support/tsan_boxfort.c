/* tsan_boxfort.c — linked into unit tests only in ThreadSanitizer builds.
 * Criterion's sandbox library (BoxFort) maps its inheritable arena at an
 * address drawn from rand_r(); on x86-64 that address usually falls outside
 * the application ranges TSan allows, and every test binary aborts with
 * "Could not initialize inheritable arena" (Criterion issue #274). This
 * override keeps the draw inside TSan's range 0x5600'0000'0000 ..
 * 0x5680'0000'0000 (BoxFort shifts it left by 24 bits). No shardkv code
 * calls rand_r, so nothing else sees the difference. */
int rand_r(unsigned *seed);

int rand_r(unsigned *seed)
{
    return (int)(0x360000u + ((*seed)++ & 0x7fffu));
}
