namespace Nabla.Kernels;

/// <summary>
/// The kernel contract: everything a device must implement for tensors and automatic differentiation to work on it.
/// Kernels compute values only; gradients are built above from differentiable primitives, so a backend never sees them.
/// Outputs are always freshly allocated, contiguous views unless stated otherwise; inputs may have any strides
/// (stride 0 for broadcast dimensions). Callers validate shapes; kernels assume consistent arguments. Every method
/// that writes a view calls <see cref="Storage.Touch"/> on its storage, so copies derived from it know they are stale.
/// </summary>
public interface IBackend
{
    /// <summary>Maximum number of threads a kernel may use.</summary>
    int Threads { get; }

    /// <summary>A zero-filled buffer.</summary>
    Storage Allocate(DType dtype, int length);

    /// <summary>
    /// A buffer whose contents are unspecified, for outputs a kernel overwrites entirely: skipping the zero fill saves
    /// a pass over memory on every op.
    /// </summary>
    Storage AllocateUninitialized(DType dtype, int length);

    /// <summary>An index buffer with unspecified contents, for a kernel to fill.</summary>
    IndexBuffer AllocateIndices(int length);

    /// <summary>
    /// Takes back <paramref name="storage"/>'s memory for reuse now rather than when it becomes unreachable. The caller
    /// guarantees that nothing reads or writes the storage afterwards (e.g. an intermediate result nobody else holds).
    /// </summary>
    void Recycle(Storage storage);

    /// <summary>Wraps (does not copy) a host array of the element type matching <paramref name="dtype"/>.</summary>
    Storage FromArray(Array data, DType dtype);

    /// <summary>Copies a view into a new dense host array of the view's element type, in row-major order.</summary>
    Array ToArray(View src);

    /// <summary>Writes <paramref name="src"/> into <paramref name="dst"/> (same shape, any strides), converting the dtype.</summary>
    void Copy(View src, View dst);

    /// <summary>Fills a contiguous view with a constant.</summary>
    void Fill(View dst, double value);

    /// <summary>dst = op(x), elementwise; dst contiguous with x's shape.</summary>
    void Unary(UnaryOp op, View x, View dst);

    /// <summary>dst = op(a, b), elementwise; a and b are already broadcast to dst's shape (stride 0 where repeated).</summary>
    void Binary(BinaryOp op, View a, View b, View dst);

    /// <summary>dst = cond ? a : b, elementwise; all three are already broadcast to dst's shape.</summary>
    void Where(View cond, View a, View b, View dst);

    /// <summary>Reduces x over <paramref name="axes"/> (sorted, distinct) into dst, whose shape is x's with those axes set to 1.</summary>
    void Reduce(ReduceOp op, View x, int[] axes, View dst);

    /// <summary>
    /// dst = log softmax of x along <paramref name="axis"/>: x − log Σ_axis exp(x), computed shifted by the axis maximum;
    /// dst contiguous with x's shape.
    /// </summary>
    void LogSoftmax(View x, int axis, View dst);

    /// <summary>Index of the max/min along <paramref name="axis"/> (first one on ties); dst is Int64 with that axis set to 1.</summary>
    void ArgReduce(ArgReduceOp op, View x, int axis, View dst);

    /// <summary>
    /// Batched matrix product: a [..., m, k] · b [..., k, n] → dst [..., m, n], or added onto dst's values when
    /// <paramref name="accumulate"/> (GEMM's beta = 1: a product that starts from a bias). The batch dimensions of a
    /// and b are already broadcast to dst's; each matrix may be row-major or transposed (either of its last two strides 1).
    /// </summary>
    void MatMul(View a, View b, View dst, bool accumulate);

    /// <summary>
    /// dst = a · b + bias, the bias [n] added to every row (PyTorch's addmm): a [m, k], b [k, n], each row-major or
    /// transposed, dst [m, n]. One pass: the bias is not first copied over dst. With <paramref name="relu"/>,
    /// dst = max(a · b + bias, 0), also in the same pass (a Linear layer and its ReLU, in inference).
    /// <paramref name="reusesB"/> says b is a weight that later calls will read again unchanged (the product is not
    /// recorded for differentiation: inference), so a device may keep a copy of it in a layout of its own, tied to
    /// the storage's <see cref="Storage.Version"/>.
    /// </summary>
    void AddMm(View bias, View a, View b, View dst, bool relu, bool reusesB);

    /// <summary>dst[…, i, …] = src[…, index[…, i, …], …] along <paramref name="axis"/>; index is Int64 with dst's shape.</summary>
    void Gather(View src, View index, int axis, View dst);

    /// <summary>
    /// dst = the slices of src picked along <paramref name="axis"/> by a 1-D Int64 index, in its order (index_select):
    /// dst is contiguous, with src's shape but the index's length on that axis.
    /// </summary>
    void IndexSelect(View src, View index, int axis, View dst);

    /// <summary>
    /// <see cref="IndexSelect"/> started ahead of need: the index is checked now, the copies may run while the caller
    /// goes on (on the CPU, in the idle time of its helper threads: a data loader gathers the next batch during a
    /// training step), and <see cref="IPending.Wait"/> finishes them. Nothing may read <paramref name="dst"/> before then.
    /// </summary>
    IPending BeginIndexSelect(View src, View index, int axis, View dst);

    /// <summary>dst[…, index[…, i, …], …] += src[…, i, …] along <paramref name="axis"/>; dst is contiguous and is accumulated into.</summary>
    void ScatterAdd(View src, View index, int axis, View dst);

    /// <summary>2-D convolution (cross-correlation) of NCHW input with [O, C/groups, KH, KW] weights; bias optional.</summary>
    void Conv2d(ConvGeometry g, View x, View w, View? bias, View dst);

    /// <summary>Gradient of <see cref="Conv2d"/> with respect to its input.</summary>
    void Conv2dBackwardInput(ConvGeometry g, View dy, View w, View dx);

    /// <summary>Gradient of <see cref="Conv2d"/> with respect to its weights.</summary>
    void Conv2dBackwardWeight(ConvGeometry g, View x, View dy, View dw);

    /// <summary>
    /// Max pooling; <paramref name="argmax"/> receives, per output element, the flat in-plane index of the chosen input,
    /// or is null when no gradient will be taken (inference), and the winners are not stored.
    /// </summary>
    void MaxPool2d(PoolGeometry g, View x, View dst, IndexBuffer? argmax);

    /// <summary>Routes each output gradient to the input chosen by <see cref="MaxPool2d"/>; dx is overwritten.</summary>
    void MaxPool2dBackward(PoolGeometry g, View dy, IndexBuffer argmax, View dx);

    /// <summary>Average pooling with the divisor KernelH·KernelW (PyTorch's count_include_pad).</summary>
    void AvgPool2d(PoolGeometry g, View x, View dst);

    /// <summary>Gradient of <see cref="AvgPool2d"/>; dx is overwritten.</summary>
    void AvgPool2dBackward(PoolGeometry g, View dy, View dx);
}
