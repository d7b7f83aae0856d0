/* The arithmetic ceiling of this CPU's vector units, measured (youngvae.bench.ceiling runs this).
 *
 * usage: isa_peak KERNEL THREADS ITERATIONS
 * prints: KERNEL THREADS SECONDS FLOP   (SECONDS = the slowest thread's wall time)
 *
 * Each thread runs independent accumulator chains of ONE instruction, ITERATIONS times; the
 * chains (NACC512 for zmm, NACC256 for ymm) exceed latency x throughput of these instructions on
 * current x86 cores, so the pipes stay full and nothing else (loads, stores) is in the loop.
 * 12 chains were too few for vdpbf16ps on an AMD EPYC of family 26 (Zen 5: two 512-bit pipes):
 * 12 gave ~460, 16-24 gave ~550 GFLOP/s per core, so the bf16 ceiling read 17 % low and oneDNN's
 * convolution measured above it. 24 zmm chains + 2 operands fit the 32 zmm registers; ymm has 16
 * registers, and 12 chains cover its FMA (latency 4 x 2 pipes):
 *   fp32_avx512  vfmadd231ps zmm : 16 lanes x 2 FLOP                = 32 FLOP / instruction
 *   bf16_avx512  vdpbf16ps   zmm : 16 lanes x 2 products x 2 FLOP   = 64 FLOP / instruction
 *   fp32_avx2    vfmadd231ps ymm :  8 lanes x 2 FLOP                = 16 FLOP / instruction
 *   bf16_amx     tdpbf16ps tiles : 16 x 16 outputs x 32 products x 2 = 16384 FLOP / instruction
 *                (AMX; 4 independent accumulator tiles per iteration, not NACC; Linux must grant
 *                the process the tile state first: arch_prctl(ARCH_REQ_XCOMP_PERM, XTILEDATA))
 * Thread t is pinned to the t-th CPU this process may run on. The kernels are compiled with
 * per-function target attributes, so one plain build (cc -O2 -pthread) holds all of them; the
 * caller runs only those the CPU's flags allow.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define NACC512 24
#define NACC256 12
#define MAX_THREADS 1024

typedef float (*kernel_fn)(long iters);

#if defined(__x86_64__)
__attribute__((target("avx512f"))) static float fp32_avx512(long iters) {
    __m512 acc[NACC512];
    const __m512 a = _mm512_set1_ps(0.9999999f), b = _mm512_set1_ps(1e-7f);
    for (int k = 0; k < NACC512; k++) acc[k] = _mm512_set1_ps((float)k);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 24
        for (int k = 0; k < NACC512; k++) acc[k] = _mm512_fmadd_ps(a, acc[k], b);
    }
    for (int k = 1; k < NACC512; k++) acc[0] = _mm512_add_ps(acc[0], acc[k]);
    return _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx512f,avx512bf16"))) static float bf16_avx512(long iters) {
    __m512 acc[NACC512];
    const __m512bh a = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
    const __m512bh b = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(1e-3f));
    for (int k = 0; k < NACC512; k++) acc[k] = _mm512_set1_ps((float)k);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 24
        for (int k = 0; k < NACC512; k++) acc[k] = _mm512_dpbf16_ps(acc[k], a, b);
    }
    for (int k = 1; k < NACC512; k++) acc[0] = _mm512_add_ps(acc[0], acc[k]);
    return _mm512_reduce_add_ps(acc[0]);
}

__attribute__((target("avx2,fma"))) static float fp32_avx2(long iters) {
    __m256 acc[NACC256];
    const __m256 a = _mm256_set1_ps(0.9999999f), b = _mm256_set1_ps(1e-7f);
    for (int k = 0; k < NACC256; k++) acc[k] = _mm256_set1_ps((float)k);
    for (long i = 0; i < iters; i++) {
#pragma GCC unroll 12
        for (int k = 0; k < NACC256; k++) acc[k] = _mm256_fmadd_ps(a, acc[k], b);
    }
    float out[8], sum = 0.0f;
    for (int k = 1; k < NACC256; k++) acc[0] = _mm256_add_ps(acc[0], acc[k]);
    _mm256_storeu_ps(out, acc[0]);
    for (int k = 0; k < 8; k++) sum += out[k];
    return sum;
}

#define ARCH_REQ_XCOMP_PERM 0x1023
#define XFEATURE_XTILEDATA 18
#define AMX_ACC 4

typedef struct {
    uint8_t palette_id;
    uint8_t start_row;
    uint8_t reserved[14];
    uint16_t colsb[16];
    uint8_t rows[16];
} __attribute__((packed)) tile_config_t;

/* Tiles 0-3 accumulate C (16 x 16 float32), tiles 4-7 hold A and B (16 rows x 32 bf16). */
__attribute__((target("amx-tile,amx-bf16"))) static float bf16_amx(long iters) {
    if (syscall(SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA) != 0) {
        fprintf(stderr, "arch_prctl(ARCH_REQ_XCOMP_PERM) refused the AMX tile state\n");
        exit(3);
    }
    static __thread uint16_t ab[16 * 32] __attribute__((aligned(64)));
    static __thread float c[16 * 16] __attribute__((aligned(64)));
    for (int i = 0; i < 16 * 32; i++) ab[i] = 0x3a83; /* bf16 ~1e-3 */
    tile_config_t cfg;
    memset(&cfg, 0, sizeof(cfg));
    cfg.palette_id = 1;
    for (int t = 0; t < 8; t++) {
        cfg.rows[t] = 16;
        cfg.colsb[t] = 64;
    }
    _tile_loadconfig(&cfg);
    _tile_zero(0);
    _tile_zero(1);
    _tile_zero(2);
    _tile_zero(3);
    _tile_loadd(4, ab, 64);
    _tile_loadd(5, ab, 64);
    _tile_loadd(6, ab, 64);
    _tile_loadd(7, ab, 64);
    for (long i = 0; i < iters; i++) {
        _tile_dpbf16ps(0, 4, 5);
        _tile_dpbf16ps(1, 4, 7);
        _tile_dpbf16ps(2, 6, 5);
        _tile_dpbf16ps(3, 6, 7);
    }
    _tile_stored(0, c, 64);
    float sum = c[0];
    _tile_stored(1, c, 64);
    sum += c[0];
    _tile_release();
    return sum;
}
#endif

static const struct {
    const char *name;
    int flop_per_instruction;
    int instructions_per_iteration;
    kernel_fn fn;
} KERNELS[] = {
#if defined(__x86_64__)
    {"fp32_avx512", 32, NACC512, fp32_avx512},
    {"bf16_avx512", 64, NACC512, bf16_avx512},
    {"fp32_avx2", 16, NACC256, fp32_avx2},
    {"bf16_amx", 16384, AMX_ACC, bf16_amx},
#endif
    {NULL, 0, 0, NULL},
};

typedef struct {
    int cpu;
    kernel_fn fn;
    long iters;
    double seconds;
    float sink;
} job_t;

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec * 1e-9;
}

static void *worker(void *arg) {
    job_t *job = (job_t *)arg;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(job->cpu, &set);
    sched_setaffinity(0, sizeof(set), &set);
    double t0 = now();
    job->sink = job->fn(job->iters);
    job->seconds = now() - t0;
    return NULL;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s KERNEL THREADS ITERATIONS\n", argv[0]);
        return 2;
    }
    int k = 0;
    while (KERNELS[k].name && strcmp(KERNELS[k].name, argv[1]) != 0) k++;
    if (!KERNELS[k].name) {
        fprintf(stderr, "unknown kernel %s\n", argv[1]);
        return 2;
    }
    int threads = atoi(argv[2]);
    long iters = atol(argv[3]);
    cpu_set_t allowed;
    sched_getaffinity(0, sizeof(allowed), &allowed);
    if (threads < 1 || threads > CPU_COUNT(&allowed) || threads > MAX_THREADS || iters < 1) {
        fprintf(stderr, "THREADS must be 1..%d (CPUs this process may use), ITERATIONS >= 1\n",
                CPU_COUNT(&allowed));
        return 2;
    }
    static pthread_t tid[MAX_THREADS];
    static job_t jobs[MAX_THREADS];
    int cpu = 0;
    for (int t = 0; t < threads; t++) {
        while (!CPU_ISSET(cpu, &allowed)) cpu++;
        jobs[t] = (job_t){.cpu = cpu++, .fn = KERNELS[k].fn, .iters = iters};
        pthread_create(&tid[t], NULL, worker, &jobs[t]);
    }
    double slowest = 0.0, sink = 0.0;
    for (int t = 0; t < threads; t++) {
        pthread_join(tid[t], NULL);
        if (jobs[t].seconds > slowest) slowest = jobs[t].seconds;
        sink += jobs[t].sink;
    }
    double flop = (double)threads * iters * KERNELS[k].instructions_per_iteration *
                  KERNELS[k].flop_per_instruction;
    printf("%s %d %.6f %.0f\n", KERNELS[k].name, threads, slowest, flop);
    return sink == 1234.5 ? 1 : 0; /* keeps the results live */
}
