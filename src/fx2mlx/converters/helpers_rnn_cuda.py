"""The LSTM's time loop as one CUDA kernel (helpers_rnn.py lists it): on MLX's CUDA backend a
generated ``LSTM`` runs each layer and direction in one launch instead of ~10 small kernels a
time step. Elsewhere (CPU, Metal), or where the kernel doesn't apply (proj_size, half
precision, hidden_size above 1024), the step loop runs as before.

One block per sequence; each hidden unit's four gate rows are summed by Q threads over chunks
of h (more threads keep more weight loads in flight: the weights are read from L2 every step),
then one thread updates the unit's c and h. The weights are regrouped (k, unit, gate) so the
four gates come in one 16-byte load. float32 accumulation in the order of the chunks: within
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


def lstm_kernel_applies(xw: mx.array, w_hr: mx.array | None) -> bool:
    """Whether lstm_scan_cuda runs this layer: the CUDA device, float32, no projection."""
    return (
        LSTM_KERNEL is not None
        and mx.default_device() == mx.gpu
        and xw.dtype == mx.float32
        and w_hr is None
        and xw.shape[-1] // 4 <= 1024
    )


def lstm_scan_cuda(xw: mx.array, w_hh: mx.array, h: mx.array, c: mx.array, reverse: bool) -> tuple:
    """One layer and direction of an LSTM over time-major xw (L, N, 4H), in one kernel."""
    steps, batch, rows = xw.shape
    hidden = rows // 4
    q = max(1, min(8, 1024 // hidden) // (2 if batch >= 128 else 1))  # threads per unit
    threads = -(-hidden * q // 32) * 32
    w4 = mx.contiguous(w_hh.reshape(4, hidden, hidden).transpose(2, 1, 0))  # (k, unit, gate)
    y, h_n, c_n = LSTM_KERNEL(
        inputs=[xw, w4, h, c],
        template=[("H", hidden), ("Q", q), ("REVERSE", reverse)],
        grid=(batch * threads, 1, 1),
        threadgroup=(threads, 1, 1),
        output_shapes=[(steps, batch, hidden), (batch, hidden), (batch, hidden)],
        output_dtypes=[mx.float32] * 3,
    )
    return y, (h_n, c_n)
'''

RNN_CUDA_SOURCES: dict[str, tuple[str, tuple[str, ...]]] = {
    "lstm_scan_cuda": (LSTM_SCAN_CUDA, ()),
}
"""Each definition by name: its source and the definitions it uses."""
