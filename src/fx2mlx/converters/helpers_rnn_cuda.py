"""The LSTM's and GRU's time loops as one CUDA kernel each (helpers_rnn.py lists them): on MLX's
CUDA backend a generated ``LSTM``/``GRU`` runs each layer and direction in one launch instead
of ~10 small kernels a time step. Elsewhere (CPU, Metal), or where a kernel doesn't apply
(LSTM proj_size, half precision, hidden_size above 1024), the step loop runs as before.

One block per sequence; each hidden unit's four gate rows are summed by Q threads over chunks
of h (more threads keep more weight loads in flight: the weights are read from L2 every step),
then one thread updates the unit's state. The weights are regrouped (k, unit, gate) so a
unit's gates are adjacent (the LSTM's four in one 16-byte load). float32 accumulation in the order of the chunks: within
float32 rounding of MLX's own step loop (checked on the GPU by ``benchmarks/rnn_check.py``).
"""

from __future__ import annotations

LSTM_SCAN_CUDA = r'''
LSTM_SCAN_SOURCE = """
    // One block per sequence n. Thread (j, q) = threadIdx.x = j + H * q sums the four gates of
    // hidden unit j over the q-th chunk of h; thread (j, 0) adds the chunks and updates c, h.
    constexpr int KC = (H + Q - 1) / Q;
    const int n = blockIdx.x, batch = gridDim.x, steps = xw_shape[0];
    const int j = threadIdx.x % H, q = threadIdx.x / H, k0 = q * KC, k1 = min(H, k0 + KC);
    __shared__ float hs[2][H];  // h of the previous and the current step
    __shared__ float4 part[Q][H];
    float c = 0.0f;
    if (q == 0) {
        hs[0][j] = h0[n * H + j];
        c = c0[n * H + j];
    }
    __syncthreads();
    for (int s = 0; s < steps; ++s) {
        const int t = REVERSE ? steps - 1 - s : s;
        const float* h = hs[s & 1];
        if (q < Q) {
            float4 a = make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            const float4* w = reinterpret_cast<const float4*>(w4) + (size_t)k0 * H + j;
            #pragma unroll 8
            for (int k = k0; k < k1; ++k, w += H) {
                const float4 wk = *w;
                a.x += wk.x * h[k]; a.y += wk.y * h[k]; a.z += wk.z * h[k]; a.w += wk.w * h[k];
            }
            part[q][j] = a;
        }
        __syncthreads();
        if (q == 0) {
            const float* x = xw + ((size_t)t * batch + n) * 4 * H + j;
            float i = x[0], f = x[H], g = x[2 * H], o = x[3 * H];
            for (int r = 0; r < Q; ++r) {
                i += part[r][j].x; f += part[r][j].y; g += part[r][j].z; o += part[r][j].w;
            }
            c = c / (1.0f + expf(-f)) + tanhf(g) / (1.0f + expf(-i));
            const float h_t = tanhf(c) / (1.0f + expf(-o));
            hs[(s + 1) & 1][j] = h_t;
            y[((size_t)t * batch + n) * H + j] = h_t;
        }
        __syncthreads();
    }
    if (q == 0) {
        h_n[n * H + j] = hs[steps & 1][j];
        c_n[n * H + j] = c;
    }
"""

LSTM_KERNEL = (
    mx.fast.cuda_kernel(
        name="lstm_scan",
        input_names=["xw", "w4", "h0", "c0"],
        output_names=["y", "h_n", "c_n"],
        source=LSTM_SCAN_SOURCE,
    )
    if mx.cuda.is_available()
    else None
)


def lstm_scan_cuda(
    xw: mx.array, w_hh: mx.array, h: mx.array | None, c: mx.array | None, reverse: bool
) -> tuple:
    """One layer and direction of an LSTM over time-major xw (L, N, 4H), in one kernel."""
    y, h_n, c_n = scan_launch(LSTM_KERNEL, xw, w_hh, (h, c), reverse)
    return y, (h_n, c_n)
'''

GRU_SCAN_CUDA = r'''
GRU_SCAN_SOURCE = """
    // One block per sequence n. Thread (j, q) = threadIdx.x = j + H * q sums the three
    // h-side gates of hidden unit j over the q-th chunk of h; thread (j, 0) adds the chunks
    // and the h-side bias and updates h (r scales W_hn h + b_hn, as in torch).
    constexpr int KC = (H + Q - 1) / Q;
    const int n = blockIdx.x, batch = gridDim.x, steps = xw_shape[0];
    const int j = threadIdx.x % H, q = threadIdx.x / H, k0 = q * KC, k1 = min(H, k0 + KC);
    __shared__ float hs[2][H];  // h of the previous and the current step
    __shared__ float3 part[Q][H];
    if (q == 0) {
        hs[0][j] = h0[n * H + j];
    }
    __syncthreads();
    for (int s = 0; s < steps; ++s) {
        const int t = REVERSE ? steps - 1 - s : s;
        const float* h = hs[s & 1];
        if (q < Q) {
            float3 a = make_float3(0.0f, 0.0f, 0.0f);
            const float* w = w3 + ((size_t)k0 * H + j) * 3;
            #pragma unroll 8
            for (int k = k0; k < k1; ++k, w += 3 * H) {
                a.x += w[0] * h[k]; a.y += w[1] * h[k]; a.z += w[2] * h[k];
            }
            part[q][j] = a;
        }
        __syncthreads();
        if (q == 0) {
            const float* x = xw + ((size_t)t * batch + n) * 3 * H + j;
            float r = b_hh[j], z = b_hh[H + j], m = b_hh[2 * H + j];
            for (int p = 0; p < Q; ++p) {
                r += part[p][j].x; z += part[p][j].y; m += part[p][j].z;
            }
            r = 1.0f / (1.0f + expf(-(x[0] + r)));
            z = 1.0f / (1.0f + expf(-(x[H] + z)));
            const float h_t = (1.0f - z) * tanhf(x[2 * H] + r * m) + z * h[j];
            hs[(s + 1) & 1][j] = h_t;
            y[((size_t)t * batch + n) * H + j] = h_t;
        }
        __syncthreads();
    }
    if (q == 0) {
        h_n[n * H + j] = hs[steps & 1][j];
    }
"""

GRU_KERNEL = (
    mx.fast.cuda_kernel(
        name="gru_scan",
        input_names=["xw", "w3", "b_hh", "h0"],
        output_names=["y", "h_n"],
        source=GRU_SCAN_SOURCE,
    )
    if mx.cuda.is_available()
    else None
)


def gru_scan_cuda(
    xw: mx.array, w_hh: mx.array, b_hh: mx.array | None, h: mx.array | None, reverse: bool
) -> tuple:
    """One layer and direction of a GRU over time-major xw (L, N, 3H), in one kernel."""
    bias = mx.zeros((xw.shape[-1],)) if b_hh is None else b_hh
    y, h_n = scan_launch(GRU_KERNEL, xw, w_hh, (h,), reverse, extra=(bias,))
    return y, (h_n,)
'''

SCAN_LAUNCH = '''
def scan_kernel_applies(kernel: object, xw: mx.array, gates: int) -> bool:
    """Whether a recurrent layer's time loop runs as one CUDA kernel: CUDA, float32, at most
    1024 hidden units (one block holds a sequence) and a non-empty batch."""
    return (
        kernel is not None
        and mx.default_device() == mx.gpu
        and xw.dtype == mx.float32
        and xw.shape[-1] // gates <= 1024
        and xw.shape[1] > 0
    )


def scan_launch(
    kernel: object, xw: mx.array, w_hh: mx.array, states: tuple, reverse: bool, extra: tuple = ()
) -> list[mx.array]:
    """Run a scan kernel over time-major xw (L, N, gates * H): every step's h, then the final
    states (None: zeros). One block a sequence, Q threads a hidden unit (more keep more weight
    loads in flight; fewer when many blocks already do); w_hh regrouped (k, unit, gate)."""
    steps, batch, rows = xw.shape
    hidden = w_hh.shape[1]
    q = max(1, min(8, 1024 // hidden) // (2 if batch >= 128 else 1))
    threads = -(-hidden * q // 32) * 32  # a multiple of 32
    w = mx.contiguous(w_hh.reshape(rows // hidden, hidden, hidden).transpose(2, 1, 0))
    states = tuple(mx.zeros((batch, hidden), xw.dtype) if s is None else s for s in states)
    return kernel(
        inputs=[xw, w, *extra, *states],
        template=[("H", hidden), ("Q", q), ("REVERSE", reverse)],
        grid=(batch * threads, 1, 1),
        threadgroup=(threads, 1, 1),
        output_shapes=[(steps, batch, hidden)] + [(batch, hidden)] * len(states),
        output_dtypes=[mx.float32] * (1 + len(states)),
    )
'''

RNN_CUDA_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "scan_launch": (SCAN_LAUNCH, ()),
    "lstm_scan_cuda": (LSTM_SCAN_CUDA, ("scan_launch",)),
    "gru_scan_cuda": (GRU_SCAN_CUDA, ("scan_launch",)),
}
"""Each definition by name: its source and the definitions it uses."""
