/*
 * A C copy of the axis-0 mean loop of chunkwise's CPU reduction kernels
 * (src/device/cpu/reduce/bank.rs `MeanBank::rows`, src/device/cpu/mean512.rs), over a
 * (365, 721*1440) f32 field in memory: the loop's own rate, without the engine around
 * it, to tell what the machine allows from what the engine costs.
 *
 *   gcc -O2 -mavx2 -mfma -fopenmp benches/floor/mean_rows.c -o /tmp/mean_rows
 *   OMP_NUM_THREADS=2 /tmp/mean_rows MODE G PF AVX512 [TILE]
 *
 * Tiles are shared by OMP_NUM_THREADS threads (chunkwise's column spans); build with
 * -DPFH=_MM_HINT_T0 for prefetches into L1 (chunkwise before 2026-12-06) instead of
 * L2. MODE 0: the rows of a group stay in cache (the loop's compute rate); 1: the whole
 * field from memory; 2: a flat f32 sum of the same bytes, the read rate the field
 * allows (G, PF, AVX512 ignored). G: rows per group (chunkwise: 12). PF 0: no software prefetch;
 * 1: the same columns of the next group (chunkwise since 2026-12-03); 2: 4 KiB ahead
 * in the same row (chunkwise before). AVX512 0: the AVX2 loop; 1: the AVX-512 one.
 * TILE: columns per tile (chunkwise: 2048). Prints the best of 7 passes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <immintrin.h>
#include <sys/mman.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec*1e-9;}
#define NR 365
#define NK (721*1440)
static int TILE=2048;
#ifndef PFH
#define PFH _MM_HINT_T1
#endif
static int G=12, PF=0, AVX512=0;
static void rows_k(const float* const* rows,const float* const* ahead,int nr,double*sum,double*cnt,int l){
  for(int c=0;c+16<=l;c+=16){
    __m256d s0=_mm256_setzero_pd(),s1=s0,s2=s0,s3=s0; __m128i n0=_mm_setzero_si128(),n1=n0,n2=n0,n3=n0;
    for(int r=0;r<nr;r++){const float*x=rows[r]+c;
      if(PF==1) _mm_prefetch((const char*)(ahead[r]+c),PFH);
      if(PF==2) _mm_prefetch((const char*)(x+1024),PFH);
      __m128 a0=_mm_loadu_ps(x),a1=_mm_loadu_ps(x+4),a2=_mm_loadu_ps(x+8),a3=_mm_loadu_ps(x+12);
      __m128 m0=_mm_cmpord_ps(a0,a0),m1=_mm_cmpord_ps(a1,a1),m2=_mm_cmpord_ps(a2,a2),m3=_mm_cmpord_ps(a3,a3);
      s0=_mm256_add_pd(s0,_mm256_cvtps_pd(_mm_and_ps(a0,m0)));s1=_mm256_add_pd(s1,_mm256_cvtps_pd(_mm_and_ps(a1,m1)));
      s2=_mm256_add_pd(s2,_mm256_cvtps_pd(_mm_and_ps(a2,m2)));s3=_mm256_add_pd(s3,_mm256_cvtps_pd(_mm_and_ps(a3,m3)));
      n0=_mm_sub_epi32(n0,_mm_castps_si128(m0));n1=_mm_sub_epi32(n1,_mm_castps_si128(m1));n2=_mm_sub_epi32(n2,_mm_castps_si128(m2));n3=_mm_sub_epi32(n3,_mm_castps_si128(m3));
    }
    _mm256_storeu_pd(sum+c,_mm256_add_pd(_mm256_loadu_pd(sum+c),s0));_mm256_storeu_pd(sum+c+4,_mm256_add_pd(_mm256_loadu_pd(sum+c+4),s1));
    _mm256_storeu_pd(sum+c+8,_mm256_add_pd(_mm256_loadu_pd(sum+c+8),s2));_mm256_storeu_pd(sum+c+12,_mm256_add_pd(_mm256_loadu_pd(sum+c+12),s3));
    _mm256_storeu_pd(cnt+c,_mm256_add_pd(_mm256_loadu_pd(cnt+c),_mm256_cvtepi32_pd(n0)));_mm256_storeu_pd(cnt+c+4,_mm256_add_pd(_mm256_loadu_pd(cnt+c+4),_mm256_cvtepi32_pd(n1)));
    _mm256_storeu_pd(cnt+c+8,_mm256_add_pd(_mm256_loadu_pd(cnt+c+8),_mm256_cvtepi32_pd(n2)));_mm256_storeu_pd(cnt+c+12,_mm256_add_pd(_mm256_loadu_pd(cnt+c+12),_mm256_cvtepi32_pd(n3)));
  }
}
__attribute__((target("avx512f,avx512vl,avx512dq")))
static void rows_k512(const float* const* rows,const float* const* ahead,int nr,double*sum,double*cnt,int l){
  const __m512i one=_mm512_set1_epi32(1);
  for(int c=0;c+16<=l;c+=16){
    __m512d s0=_mm512_setzero_pd(),s1=s0; __m512i n=_mm512_setzero_si512();
    for(int r=0;r<nr;r++){const float*x=rows[r]+c;
      if(PF==1) _mm_prefetch((const char*)(ahead[r]+c),PFH);
      if(PF==2) _mm_prefetch((const char*)(x+1024),PFH);
      __m512 a=_mm512_loadu_ps(x);
      __mmask16 k=_mm512_cmp_ps_mask(a,a,_CMP_ORD_Q);
      s0=_mm512_add_pd(s0,_mm512_maskz_cvtps_pd((__mmask8)k,_mm512_castps512_ps256(a)));
      s1=_mm512_add_pd(s1,_mm512_maskz_cvtps_pd((__mmask8)(k>>8),_mm512_extractf32x8_ps(a,1)));
      n=_mm512_mask_add_epi32(n,k,n,one);
    }
    _mm512_storeu_pd(sum+c,_mm512_add_pd(_mm512_loadu_pd(sum+c),s0));_mm512_storeu_pd(sum+c+8,_mm512_add_pd(_mm512_loadu_pd(sum+c+8),s1));
    _mm512_storeu_pd(cnt+c,_mm512_add_pd(_mm512_loadu_pd(cnt+c),_mm512_cvtepi32_pd(_mm512_castsi512_si256(n))));
    _mm512_storeu_pd(cnt+c+8,_mm512_add_pd(_mm512_loadu_pd(cnt+c+8),_mm512_cvtepi32_pd(_mm512_extracti32x8_epi32(n,1))));
  }
}
int main(int argc,char**argv){
  int mode=atoi(argv[1]); G=atoi(argv[2]); if(argc>5)TILE=atoi(argv[5]); PF=atoi(argv[3]); AVX512=atoi(argv[4]);
  size_t n=(size_t)NR*NK; float*a=aligned_alloc(1<<21,((n*4)+(1<<21)-1)&~((size_t)(1<<21)-1)); madvise(a,n*4,MADV_HUGEPAGE);
  for(size_t i=0;i<n;i++)a[i]=(float)(i%1000);
  double*sum=aligned_alloc(64,NK*8),*cnt=aligned_alloc(64,NK*8);
  double best=1e9;
  if(mode==2){ for(int rep=0;rep<7;rep++){double t0=now(); double tot=0;
    #pragma omp parallel for reduction(+:tot) schedule(static)
    for(size_t b=0;b<n/16;b+=4096){ __m256 acc=_mm256_setzero_ps(),acc2=acc; size_t e=b+4096<n/16?b+4096:n/16;
      for(size_t i=b;i<e;i++){ acc=_mm256_add_ps(acc,_mm256_loadu_ps(a+i*16)); acc2=_mm256_add_ps(acc2,_mm256_loadu_ps(a+i*16+8)); }
      float t[8]; _mm256_storeu_ps(t,_mm256_add_ps(acc,acc2)); for(int q=0;q<8;q++) tot+=t[q]; }
    double dt=now()-t0; if(dt<best)best=dt; if(tot==0.5)printf("x");}
    printf("flat: best %.3f s %.1f GB/s\n",best,n*4/best/1e9); return 0;}
  for(int rep=0;rep<7;rep++){
    double t0=now();
    int g=(NR+((NR+G-1)/G)-1)/((NR+G-1)/G);
    #pragma omp parallel for schedule(static)
    for(int t=0;t<NK;t+=TILE){int l=NK-t<TILE?NK-t:TILE;
      for(int r0=0;r0<NR;r0+=g){int r1=r0+g<NR?r0+g:NR; const float* rows[64]; const float* ahead[64];
        for(int r=r0;r<r1;r++){ rows[r-r0]= mode==0? a+(size_t)(r-r0)*NK+ (t%(8*TILE)) : a+(size_t)r*NK+t;
          int nr_=r+g, nt=t; if(nr_>=NR){nr_=r-r0; nt=t+TILE;} ahead[r-r0]= mode==0? rows[r-r0]: a+(size_t)nr_*NK+nt;}
        if(AVX512) rows_k512(rows,ahead,r1-r0,sum,cnt,l); else rows_k(rows,ahead,r1-r0,sum,cnt,l);}}
    double dt=now()-t0; if(dt<best)best=dt;
  }
  printf("tile %d mode %d G %d PF %d avx512 %d: best %.3f s %.2f Gelem/s %.1f GB/s\n",TILE,mode,G,PF,AVX512,best,n/best/1e9,n*4/best/1e9);
}
