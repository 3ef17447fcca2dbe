# Sourced on the device machine (see benchmarks/README.md) with the bundle folder as $1:
# installs the MLX CUDA wheel (staged in two halves), the hand-written packages' sources and
# the pinned transformers (5.17 there names ViT's parameters differently), and exports the
# environment of a strict float32 run (MLX_ENABLE_TF32=0; the scripts turn torch's TF32 off).
BUNDLE=${1:?bundle folder}
cat /tmp/stage/part00 "$BUNDLE"/part01 > /tmp/mlx_cuda_13-0.32.4-py3-none-manylinux_2_35_x86_64.whl
SP=$(python3 -c "import site; print(site.getsitepackages()[0])")
python3 -m pip install -q --no-index --no-deps --target /tmp/site \
    /tmp/mlx_cuda_13-*.whl /tmp/stage/mlx-0.32.4-*.whl "$BUNDLE"/transformers-*.whl
cp -r /tmp/stage/site/* /tmp/site/
ln -sfn "$SP/nvidia" /tmp/site/nvidia  # libmlx finds cuBLAS/cuDNN/NVRTC through torch's copies
export PYTHONPATH=/tmp/site:"$BUNDLE" CUDA_HOME=/usr/local/cuda MLX_ENABLE_TF32=0
export PYTHONUNBUFFERED=1
python3 -c "import mlx.core as mx; print(mx.default_device(), (mx.ones((4, 4)) @ mx.ones((4, 4))).sum())"
