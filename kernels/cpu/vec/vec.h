#include <stdint.h>
void vec_lsm_fwd(const float *x, int v, int label, float *lse, float *logp, float *ent, float *mean, float *lsp2);
void vec_lsm_bwd(float *d, const float *x, int v, int label, float g, float lse);
void vec_swiglu_fwd(float *out, const float *gate, const float *up, int n);
void vec_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int n);
void vec_attn_probs(float *s, const int32_t *seg, const int32_t *parent, float *lse, int i0, int qb, int k0, int nk, int window, int fresh);
void vec_adamw(float *p, const float *g, float *m, float *v, int n, float beta1, float beta2, float c1, float c2, float decay, float bc2sqrt, float eps, float step);
void vec_to_bf16(uint16_t *dst, const float *src, int n);
