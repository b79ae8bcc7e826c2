// The two-way GEMM split measured without the Swift engine (not run in CI):
//   gcc -O2 tools/gemm_split.c -o /tmp/gemm_split -lopenblas -ldnnl -lgomp -lpthread && /tmp/gemm_split 576
// Times (6304x192)(192xN) four ways: OpenBLAS threading itself (2 threads), oneDNN and single-threaded
// OpenBLAS each on half the rows in two pthreads, and oneDNN on one thread. Best and mean GFLOP/s of 20.
#include <stdio.h>
#include <stdlib.h>
#include <pthread.h>
#include <time.h>
#include <cblas.h>
#include <oneapi/dnnl/dnnl.h>
extern void omp_set_num_threads(int);
extern void openblas_set_num_threads(int);
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+1e-9*t.tv_nsec;}
typedef struct {int m,n,k,lib; const float*a,*b; float*c;} job;
static void* run(void*p){job*j=p; if(j->lib){omp_set_num_threads(1);dnnl_sgemm('N','N',j->m,j->n,j->k,1,j->a,j->k,j->b,j->n,0,j->c,j->n);} else cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,j->m,j->n,j->k,1,j->a,j->k,j->b,j->n,0,j->c,j->n); return 0;}
int main(int argc,char**argv){int M=6304,K=192,N=576; if(argc>1)N=atoi(argv[1]);
 float*a=malloc(4L*M*K),*b=malloc(4L*K*N),*c=malloc(4L*M*N); for(long i=0;i<(long)M*K;i++)a[i]=(i%7)*0.1f; for(long i=0;i<(long)K*N;i++)b[i]=(i%5)*0.1f;
 double fl=2.0*M*N*K;
 for(int mode=0;mode<4;mode++){ double best=1e9, tot=0; int R=20;
  for(int r=0;r<R;r++){ double t0=now();
   if(mode==0){openblas_set_num_threads(2);cblas_sgemm(CblasRowMajor,CblasNoTrans,CblasNoTrans,M,N,K,1,a,K,b,N,0,c,N);openblas_set_num_threads(1);}
   else if(mode==3){job j={M,N,K,1,a,b,c};run(&j);}
   else { int lib=(mode==1); job j0={M/2,N,K,lib,a,b,c}, j1={M-M/2,N,K,lib,a+(long)(M/2)*K,b,c+(long)(M/2)*N}; pthread_t t; pthread_create(&t,0,run,&j1); run(&j0); pthread_join(t,0);}
   double dt=now()-t0; tot+=dt; if(dt<best)best=dt; }
  if(mode==0){struct timespec s={0,200000000};nanosleep(&s,0);}
  printf("%s: best %.1f GFLOP/s, mean %.1f\n", mode==0?"openblas 2 threads":mode==1?"dnnl split 2 pthreads":mode==2?"openblas-1t split 2 pthreads":"dnnl 1 thread", fl/best/1e9, fl/(tot/R)/1e9);
 }
}
