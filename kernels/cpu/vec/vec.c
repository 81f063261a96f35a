//go:build cgo && !noblas && !novec

#include <math.h>
#include <string.h>
#include <immintrin.h>
#include "vec.h"

#define CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))

// expf as in kernels/cpu/expf.go: x = k·ln2 + r, |r| ≤ ln2/2, e^r to r⁷, 2^k in the exponent bits.
static inline float vexpf(float x) {
	x = x < -87.33f ? -87.33f : x; // NaN stays NaN
	x = x > 88.37f ? 88.37f : x;
	const float log2e = 1.44269504f, ln2hi = 0.693145752f, ln2lo = 1.42860677e-06f, shift = 12582912.0f;
	float kf = (x * log2e + shift) - shift;
	float r = (x - kf * ln2hi) - kf * ln2lo;
	float p = 1 + r * (1 + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720 + r * (1.0f / 5040)))))));
	union { uint32_t u; float f; } b;
	b.u = (uint32_t)((int32_t)kf + 127) << 23;
	return p * b.f;
}

#define LANES 16

// vec_lsm_fwd: one row x[V]: lse = m + log Σ e^(x−m) (sums in double lanes), logp = x[label] − lse (0 when label < 0);
// when asked (non-NULL): entropy = log s − Σ e^(x−m)(x−m)/s, mean = Σx/V, lsp2 = log Σ p² = log Σ e^(2(x−m)) − 2 log s.
CLONES void vec_lsm_fwd(const float *x, int v, int label, float *lse, float *logp, float *ent, float *mean, float *lsp2) {
	float mx[LANES];
	double sm[LANES];
	for (int k = 0; k < LANES; k++) mx[k] = -INFINITY, sm[k] = 0;
	int j = 0;
	if (mean) {
		for (; j + LANES <= v; j += LANES)
			for (int k = 0; k < LANES; k++) {
				mx[k] = x[j + k] > mx[k] ? x[j + k] : mx[k];
				sm[k] += x[j + k];
			}
	} else {
		for (; j + LANES <= v; j += LANES)
			for (int k = 0; k < LANES; k++) mx[k] = x[j + k] > mx[k] ? x[j + k] : mx[k];
	}
	float m = -INFINITY;
	double SM = 0;
	for (int k = 0; k < LANES; k++) m = mx[k] > m ? mx[k] : m, SM += sm[k];
	for (; j < v; j++) m = x[j] > m ? x[j] : m, SM += x[j];
	double s[LANES], sx[LANES], s2[LANES];
	for (int k = 0; k < LANES; k++) s[k] = sx[k] = s2[k] = 0;
	j = 0;
	if (ent || lsp2) {
		for (; j + LANES <= v; j += LANES)
			for (int k = 0; k < LANES; k++) {
				float z = x[j + k] - m;
				float e = vexpf(z);
				s[k] += e;
				sx[k] += (double)e * z;
				s2[k] += (double)e * e;
			}
	} else {
		for (; j + LANES <= v; j += LANES)
			for (int k = 0; k < LANES; k++) s[k] += vexpf(x[j + k] - m);
	}
	double S = 0, SX = 0, S2 = 0;
	for (int k = 0; k < LANES; k++) { S += s[k]; SX += sx[k]; S2 += s2[k]; }
	for (; j < v; j++) {
		float z = x[j] - m;
		float e = vexpf(z);
		S += e;
		SX += (double)e * z;
		S2 += (double)e * e;
	}
	double lg = (double)m + log(S);
	*lse = (float)lg;
	if (ent) *ent = (float)(log(S) - SX / S);
	if (mean) *mean = (float)(SM / v);
	if (lsp2) *lsp2 = (float)(log(S2) - 2 * log(S));
	*logp = label >= 0 ? (float)((double)x[label] - lg) : 0;
}

// vec_lsm_bwd: d[V] = −g·e^(x−lse), d[label] += g; d may alias x.
CLONES void vec_lsm_bwd(float *d, const float *x, int v, int label, float g, float lse) {
	for (int j = 0; j < v; j++) d[j] = -g * vexpf(x[j] - lse);
	d[label] += g;
}

// vec_swiglu_fwd: out[n] = silu(gate)·up.
CLONES void vec_swiglu_fwd(float *out, const float *gate, const float *up, int n) {
	for (int i = 0; i < n; i++) {
		float x = gate[i];
		out[i] = x / (1 + vexpf(-x)) * up[i];
	}
}

// vec_swiglu_bwd: dgate[n] += dout·up·σ(g)(1 + g(1−σ(g))), dup[n] += dout·silu(g); either may be NULL.
CLONES void vec_swiglu_bwd(float *dgate, float *dup, const float *dout, const float *gate, const float *up, int n) {
	if (dgate && dup) {
		for (int i = 0; i < n; i++) {
			float g = gate[i];
			float s = 1 / (1 + vexpf(-g));
			dup[i] += dout[i] * g * s;
			dgate[i] += dout[i] * up[i] * s * (1 + g * (1 - s));
		}
		return;
	}
	for (int i = 0; i < n; i++) {
		float g = gate[i];
		float s = 1 / (1 + vexpf(-g));
		if (dup) dup[i] += dout[i] * g * s;
		if (dgate) dgate[i] += dout[i] * up[i] * s * (1 + g * (1 - s));
	}
}

// vec_attn_probs: the attention probabilities of queries i0..i0+qb−1 over keys k0..k0+nk−1 in place of
// their scaled scores s[qb,nk] (see attnRowProbs in attention.go; parent may be NULL).
CLONES void vec_attn_probs(float *s, const int32_t *seg, const int32_t *parent, float *lse, int i0, int qb, int k0, int nk, int window, int fresh) {
	for (int r = 0; r < qb; r++) {
		int i = i0 + r;
		float *row = s + (long)r * nk;
		int32_t si = seg[i];
		if (si < 0) {
			memset(row, 0, sizeof(float) * nk);
			if (fresh) lse[i] = 0;
			continue;
		}
		int32_t pi = parent ? parent[i] : -1;
		if (pi < 0) pi = si;
		int jlo = k0;
		if (window > 0 && i - window + 1 > jlo) jlo = i - window + 1;
		int jhi = i + 1;
		if (jlo > k0) memset(row, 0, sizeof(float) * (jlo - k0));
		if (jhi - k0 < nk) memset(row + (jhi - k0), 0, sizeof(float) * (nk - (jhi - k0)));
		float *vis = row + (jlo - k0);
		const int32_t *ks = seg + jlo;
		int nv = jhi - jlo;
		if (fresh) {
			float mx[LANES], sm[LANES];
			for (int k = 0; k < LANES; k++) mx[k] = -INFINITY, sm[k] = 0;
			int c = 0;
			for (; c + LANES <= nv; c += LANES)
				for (int k = 0; k < LANES; k++) {
					float z = ((ks[c + k] == si) | (ks[c + k] == pi)) ? vis[c + k] : -INFINITY;
					mx[k] = z > mx[k] ? z : mx[k];
				}
			float m = -INFINITY;
			for (int k = 0; k < LANES; k++) m = mx[k] > m ? mx[k] : m;
			for (; c < nv; c++) {
				float z = ((ks[c] == si) | (ks[c] == pi)) ? vis[c] : -INFINITY;
				m = z > m ? z : m;
			}
			c = 0;
			for (; c + LANES <= nv; c += LANES)
				for (int k = 0; k < LANES; k++) {
					float e = vexpf(vis[c + k] - m);
					e = ((ks[c + k] == si) | (ks[c + k] == pi)) ? e : 0;
					vis[c + k] = e;
					sm[k] += e;
				}
			float sum = 0;
			for (int k = 0; k < LANES; k++) sum += sm[k];
			for (; c < nv; c++) {
				float e = vexpf(vis[c] - m);
				e = ((ks[c] == si) | (ks[c] == pi)) ? e : 0;
				vis[c] = e;
				sum += e;
			}
			lse[i] = m + logf(sum);
			float inv = 1 / sum;
			for (c = 0; c < nv; c++) vis[c] *= inv;
			continue;
		}
		float l = lse[i];
		for (int c = 0; c < nv; c++) {
			float e = vexpf(vis[c] - l);
			vis[c] = ((ks[c] == si) | (ks[c] == pi)) ? e : 0;
		}
	}
}

// adamw_avx: 8 elements at a time (GCC does not vectorise sqrtf without -fno-math-errno, which cgo does not allow).
__attribute__((target("avx"))) static int adamw_avx(float *p, const float *g, float *m, float *v, int n, float beta1, float beta2, float c1, float c2, float decay, float bc2sqrt, float eps, float step) {
	__m256 B1 = _mm256_set1_ps(beta1), B2 = _mm256_set1_ps(beta2), C1 = _mm256_set1_ps(c1), C2 = _mm256_set1_ps(c2);
	__m256 D = _mm256_set1_ps(decay), Q = _mm256_set1_ps(bc2sqrt), E = _mm256_set1_ps(eps), S = _mm256_set1_ps(step);
	int i = 0;
	for (; i + 8 <= n; i += 8) {
		__m256 gi = _mm256_loadu_ps(g + i);
		__m256 mi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(m + i), B1), _mm256_mul_ps(C1, gi));
		__m256 vi = _mm256_add_ps(_mm256_mul_ps(_mm256_loadu_ps(v + i), B2), _mm256_mul_ps(_mm256_mul_ps(C2, gi), gi));
		_mm256_storeu_ps(m + i, mi);
		_mm256_storeu_ps(v + i, vi);
		__m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), Q), E);
		__m256 pi = _mm256_sub_ps(_mm256_mul_ps(_mm256_loadu_ps(p + i), D), _mm256_mul_ps(S, _mm256_div_ps(mi, denom)));
		_mm256_storeu_ps(p + i, pi);
	}
	return i;
}

// vec_adamw: AdamW on p, g, m, v[n] (see optim.go: m = β1·m + c1·g, v = β2·v + c2·g², p = p·decay − step·m/(√v/bc2sqrt + eps)).
void vec_adamw(float *p, const float *g, float *m, float *v, int n, float beta1, float beta2, float c1, float c2, float decay, float bc2sqrt, float eps, float step) {
	int i = 0;
	if (__builtin_cpu_supports("avx")) i = adamw_avx(p, g, m, v, n, beta1, beta2, c1, c2, decay, bc2sqrt, eps, step);
	for (; i < n; i++) {
		float gi = g[i];
		float mi = m[i] * beta1 + c1 * gi;
		float vi = v[i] * beta2 + c2 * gi * gi;
		m[i] = mi;
		v[i] = vi;
		float denom = sqrtf(vi) / bc2sqrt + eps;
		p[i] = p[i] * decay - step * (mi / denom);
	}
}

/* float32 → bf16, round to nearest even, NaN kept quiet (the Go toBF16's bits exactly):
   integer arithmetic only, so the compiler vectorises it. */
CLONES void vec_to_bf16(uint16_t *dst, const float *src, int n) {
	const uint32_t *u = (const uint32_t *)src;
	for (int i = 0; i < n; i++) {
		uint32_t x = u[i];
		uint16_t r = (uint16_t)((x + 0x7fffu + ((x >> 16) & 1u)) >> 16);
		uint16_t q = (uint16_t)((x >> 16) | 0x40u);
		dst[i] = (x & 0x7fffffffu) > 0x7f800000u ? q : r;
	}
}
