using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using AutogradFast.Simd;
using AutogradFast.Storage;
using AutogradFast.Threading;

namespace AutogradFast.Ops;

/// <summary>Where an expression's operand comes from.</summary>
internal enum OperandSource : byte
{
    /// <summary>One value for every element: a scalar, a one-element tensor or a stride-0 broadcast, captured when the op ran.</summary>
    Value,
    /// <summary>A contiguous buffer of the expression's length (a reference on the storage is held).</summary>
    Stream,
    /// <summary>Another deferred expression (a reference on it is held).</summary>
    Expression,
}

internal struct ExpressionOperand
{
    public OperandSource Source;
    public int Index;      // storage (Stream) or expression (Expression)
    public int Offset;     // elements into the storage
    public double Value;
}

/// <summary>
/// One deferred elementwise op: a block kernel and up to three operands. Expressions form a DAG
/// through their operands and are reference counted by pending tensors and by parent expressions.
/// </summary>
internal struct Expression
{
    public nint Kernel;        // a block kernel: d[0..n) = op(x, y, z); bit k of kinds says operand k is one value
    public int Aux;            // kernel-specific (the transcendental function)
    public double Param;       // kernel-specific (pow's exponent)
    public DType DType;
    public int NumEl;
    public ExpressionOperand X, Y, Z;
    public int RefCount;
    public int Storage;        // >= 0 once computed into memory: readers then stream it instead of recomputing
    public int Reserved;       // >= 0: the buffer to compute into (a lazily filled tensor keeps its own; referenced)
    public int Size;           // instructions needed to evaluate it (an upper bound; 0 once computed)
    public int Mark;           // its instruction while a program is built, -1 otherwise
}

/// <summary>
/// Deferred, fused elementwise evaluation. Large elementwise results (forward ops and gradient rules
/// alike) are not computed when the op runs: the result is a pending tensor holding an expression
/// over its operands. When the value is needed the expression DAG is compiled into a short program
/// and run block by block (4 Ki elements in 512-element stages, so intermediates stay in L1): written out when the
/// tensor is read, reduced without ever being written by <c>sum</c>/<c>mean</c>, or added straight
/// into a leaf's <c>.grad</c>. <c>(x * x).exp().sum()</c> and its backward thus read x once each way
/// instead of making a memory pass per op. Results are the same bits as unfused evaluation: blocks
/// run the same elementwise operators, and sums use the reduction driver's own chunking.
/// <para>Correctness rules: operands are captured when the op runs (values by value, buffers by
/// reference), and any in-place write first evaluates the pending expressions that read the buffer
/// it writes (<see cref="TensorContext.BeforeWrite"/>).</para>
/// </summary>
internal static unsafe class Fusion
{
    /// <summary>Below this, one pass is cheap and cache-resident: ops run eagerly (and tiny graphs keep their fast paths).</summary>
    public const int DefaultMinElements = 1 << 17;

    /// <summary>Longest program; a deeper chain computes its operands into memory first.</summary>
    public const int MaxInstructions = 16;

    /// <summary>Elements per block: the reduction driver's chunk, so fused sums add in the same order.</summary>
    public const int BlockLength = ReductionDriver.ChunkLength;

    /// <summary>
    /// Elements each instruction computes at a time: short stages keep intermediates in L1 and let the
    /// hardware prefetcher stream the next stage's inputs while a compute-bound op (exp) runs. A
    /// multiple of 64 elements and a divisor of <see cref="BlockLength"/>: a fused sum adds a block
    /// stage by stage (<see cref="ChunkSum{T}"/>). On W6, 512 ran the forward 8% faster than 256 and
    /// the backward 4% slower; 1024 and more were slower, 64 and 128 too.
    /// </summary>
    public const int StageLength = 512;

    /// <summary>
    /// A gradient at least this large that lands on its deferred zero is written with streaming stores
    /// (<see cref="StreamingStore"/>): the destination is write-only there, and a cached write would evict
    /// the inputs the next step reads again. W6 (16 MiB) ran 15% faster; at 4 and 8 MiB, where the step's
    /// data still fits this machine's 32 MiB L3, it made no difference either way.
    /// </summary>
    public const long StreamingMinBytes = 8L << 20;

    /// <summary>Programs this thread ran with streaming stores (tests prove the path ran).</summary>
    internal static long StreamedWrites => t_streamedWrites;

    [ThreadStatic] private static long t_streamedWrites;

    // ---- deferring -------------------------------------------------------------------------------

    /// <summary>
    /// A pending tensor for op(x, y, z) with <paramref name="kernel"/>, or -1 when the op should run
    /// now (small, not floating point, or an operand that is neither contiguous nor one value).
    /// </summary>
    public static int TryDefer(TensorContext c, nint kernel, int aux, double param, DType dtype, ReadOnlySpan<int> shape,
        bool temporary, Operand x, Operand y, Operand z)
    {
        int numel = Dims.NumEl(shape);
        if (numel < c.FusionMinElements || dtype is not (DType.Float32 or DType.Float64)) return -1;
        if (!Classify(c, x, dtype, numel, out ExpressionOperand ex)
            || !Classify(c, y, dtype, numel, out ExpressionOperand ey)
            || !Classify(c, z, dtype, numel, out ExpressionOperand ez)) return -1;
        int size = 1 + SizeOf(c, ex) + (SameExpression(ey, ex) ? 0 : SizeOf(c, ey)) + (SameExpression(ez, ex) || SameExpression(ez, ey) ? 0 : SizeOf(c, ez));
        if (size > MaxInstructions)
        {
            // Cut the chain: the operands are computed into memory and streamed from there.
            if (ex.Source == OperandSource.Expression) ComputeIntoMemory(c, ex.Index);
            if (ey.Source == OperandSource.Expression) ComputeIntoMemory(c, ey.Index);
            if (ez.Source == OperandSource.Expression) ComputeIntoMemory(c, ez.Index);
            size = 1;
        }
        int e = c.NewExpression();
        ref Expression node = ref c.Expressions[e];
        node = new Expression
        {
            Kernel = kernel, Aux = aux, Param = param, DType = dtype, NumEl = numel,
            X = ex, Y = ey, Z = ez, RefCount = 1, Storage = -1, Reserved = -1, Size = size, Mark = -1,
        };
        Reference(c, ex);
        Reference(c, ey);
        Reference(c, ez);
        return c.NewPendingTensor(dtype, shape, e, temporary);
    }

    private static bool Classify(TensorContext c, Operand operand, DType dtype, int numel, out ExpressionOperand e)
    {
        e = default;
        if (operand.IsScalar)
        {
            e.Value = operand.Scalar; // as the executor: converted to the result's dtype when used
            return true;
        }
        int slot = operand.Slot;
        ref TensorRecord r = ref c.Records[slot];
        if (r.DType != dtype) return false;
        if (r.NumEl == 1 || (r.NumEl == numel && r.Rank > 0 && AllStridesZero(r)))
        {
            e.Value = dtype == DType.Float32 ? *c.Pointer<float>(slot) : *c.Pointer<double>(slot);
            return true;
        }
        if (r.NumEl != numel || !r.IsContiguous) return false;
        if (r.IsPending)
        {
            e.Source = OperandSource.Expression;
            e.Index = r.PendingExpression;
            return true;
        }
        if (r.IsInline) return false; // unreachable for large tensors; inline data has no storage to reference
        e.Source = OperandSource.Stream;
        e.Index = r.Storage;
        e.Offset = r.Offset;
        return true;
    }

    private static bool AllStridesZero(in TensorRecord r)
    {
        for (int i = 0; i < r.Rank; i++)
            if (r.Strides[i] != 0 && r.Shape[i] != 1) return false;
        return true;
    }

    private static bool SameExpression(in ExpressionOperand a, in ExpressionOperand b)
        => a.Source == OperandSource.Expression && b.Source == OperandSource.Expression && a.Index == b.Index;

    private static int SizeOf(TensorContext c, in ExpressionOperand e)
        => e.Source == OperandSource.Expression ? c.Expressions[e.Index].Size : 0;

    /// <summary>
    /// Computes <paramref name="expression"/> into memory, once: into the buffer a lazily filled tensor
    /// kept, else a new one. The expression references the buffer from then on, so its other readers
    /// stream it instead of recomputing, and a write into it first evaluates them (PendingReaders).
    /// </summary>
    public static int ComputeIntoMemory(TensorContext c, int expression)
    {
        ref Expression node = ref c.Expressions[expression];
        if (node.Storage >= 0) return node.Storage;
        int storage = node.Reserved; // its reference becomes the expression's
        node.Reserved = -1;
        if (storage < 0)
        {
            storage = c.NewStorage((long)node.NumEl * node.DType.ElementSize(), zero: false);
            c.AddStorageReference(storage);
        }
        Evaluate(c, expression, (void*)c.Storages[storage].Pointer);
        node.Storage = storage;
        node.Size = 0;
        c.Storages[storage].PendingReaders++;
        // Its operands are no longer needed by anyone reading through it.
        ExpressionOperand x = node.X, y = node.Y, z = node.Z;
        node.X = node.Y = node.Z = default;
        Unreference(c, x);
        Unreference(c, y);
        Unreference(c, z);
        return storage;
    }

    private static void Reference(TensorContext c, in ExpressionOperand e)
    {
        switch (e.Source)
        {
            case OperandSource.Stream:
                c.AddStorageReference(e.Index);
                c.Storages[e.Index].PendingReaders++;
                break;
            case OperandSource.Expression:
                c.Expressions[e.Index].RefCount++;
                break;
        }
    }

    private static void Unreference(TensorContext c, in ExpressionOperand e)
    {
        switch (e.Source)
        {
            case OperandSource.Stream:
                c.Storages[e.Index].PendingReaders--;
                c.ReleaseStorage(e.Index);
                break;
            case OperandSource.Expression:
                Release(c, e.Index);
                break;
        }
    }

    public static void Release(TensorContext c, int expression)
    {
        ref Expression node = ref c.Expressions[expression];
        if (--node.RefCount > 0) return;
        ExpressionOperand x = node.X, y = node.Y, z = node.Z;
        if (node.Storage >= 0)
        {
            c.Storages[node.Storage].PendingReaders--;
            c.ReleaseStorage(node.Storage);
        }
        if (node.Reserved >= 0) c.ReleaseStorage(node.Reserved);
        node = default;
        c.FreeExpression(expression);
        Unreference(c, x);
        Unreference(c, y);
        Unreference(c, z);
    }

    // ---- lazy fills (zero_ on a .grad) ----------------------------------------------------------------

    /// <summary>
    /// <c>t.fill_(value)</c> without writing: a large tensor that alone owns its dense buffer becomes a
    /// pending constant that keeps the buffer. The next gradient accumulation then writes
    /// <c>value + gradient</c> in one pass instead of reading back the zeros (see
    /// <see cref="TryAccumulateOntoFill"/>); any other read writes the value first.
    /// </summary>
    public static bool TryDeferFill(TensorContext c, int slot, double value)
    {
        ref TensorRecord r = ref c.Records[slot];
        if (r.NumEl < c.FusionMinElements || !r.DType.IsFloatingPoint()) return false;
        if (r.IsPending)
        {
            ref Expression pending = ref c.Expressions[r.PendingExpression];
            if (pending.Reserved < 0 || pending.RefCount != 1) return false;
            pending.X.Value = value; // filled again before anything read it
            return true;
        }
        if (r.Storage < 0 || r.Offset != 0 || !r.OwnsDenseMemory) return false;
        ref StorageRecord s = ref c.Storages[r.Storage];
        if (s.RefCount != 1 || s.PendingReaders != 0) return false; // a view or a deferred reader sees this buffer
        int e = c.NewExpression();
        c.Expressions[e] = new Expression
        {
            Kernel = ElementwiseKernelFor<CopyOperator>(r.DType), DType = r.DType, NumEl = r.NumEl,
            X = new ExpressionOperand { Value = value }, RefCount = 1, Storage = -1, Reserved = r.Storage, Size = 1, Mark = -1,
        };
        r.InlineVersion = s.Version; // a pending tensor keeps its version counter in the record
        r.Storage = TensorRecord.PendingBase - e; // the record's reference on the buffer moves to the expression
        return true;
    }

    /// <summary>
    /// <c>destination += source</c> where destination is a pending fill and source is pending: the sum
    /// <c>value + source</c> is computed straight into destination's buffer. False if not that case.
    /// </summary>
    public static bool TryAccumulateOntoFill(TensorContext c, int destination, int source)
    {
        ref TensorRecord d = ref c.Records[destination];
        ref TensorRecord s = ref c.Records[source];
        if (!d.IsPending || !s.IsPending || d.DType != s.DType || d.NumEl != s.NumEl) return false;
        int fill = d.PendingExpression;
        ref Expression node = ref c.Expressions[fill];
        if (node.Reserved < 0 || node.RefCount != 1) return false;
        int storage = node.Reserved;
        node.Reserved = -1;
        Run(c, s.PendingExpression, Sink.Accumulate, (void*)c.Storages[storage].Pointer, node.X.Value);
        c.TakeComputedStorage(destination, storage);
        Release(c, fill);
        return true;
    }

    // ---- evaluating --------------------------------------------------------------------------------

    private enum Sink : byte { Write, Accumulate, Sum }

    private struct Instruction
    {
        public nint Kernel;
        public double Param;
        public int Aux;
        public int Kinds;
        public byte* X, Y, Z;   // a value's address, a stream's base, or a scratch offset
        public byte Modes;      // 2 bits per operand: 0 value, 1 stream, 2 scratch
    }

    [InlineArray(MaxInstructions)]
    private struct Instructions { private Instruction _element0; }

    [InlineArray(3 * MaxInstructions)]
    private struct Values { private long _element0; }

    private struct Program
    {
        public Instructions Code;
        public Values Constants;
        public int Count;
        public nint Length;
        public Sink Sink;
        public byte* Destination;
        public void* Partials;
        public nint AccumulateKernel;
        public bool AccumulateOntoConstant;
        public long AccumulateConstant;
        public bool Streaming;    // onto a constant, large: written with streaming stores
    }

    /// <summary>Writes <paramref name="expression"/>'s value into <paramref name="destination"/> (its length, its dtype).</summary>
    public static void Evaluate(TensorContext c, int expression, void* destination)
        => Run(c, expression, Sink.Write, destination, null);

    /// <summary>destination += expression's value (the engine adding a gradient into a .grad).</summary>
    public static void AccumulateInto(TensorContext c, int expression, void* destination)
        => Run(c, expression, Sink.Accumulate, destination, null);

    /// <summary>
    /// Runs the expression into <paramref name="destination"/>: written, or added to what is there, or
    /// (<paramref name="onto"/> given) added to that constant: <c>onto + value</c>, the same bits as
    /// filling the destination with it and then accumulating.
    /// </summary>
    private static void Run(TensorContext c, int expression, Sink sink, void* destination, double? onto)
    {
        Program p = default;
        p.Sink = sink;
        p.Destination = (byte*)destination;
        if (sink == Sink.Accumulate)
        {
            p.AccumulateKernel = ElementwiseKernelFor<AddOperator>(c.Expressions[expression].DType);
            if (onto is double value)
            {
                p.AccumulateOntoConstant = true;
                if (c.Expressions[expression].DType == DType.Float32) Unsafe.As<long, float>(ref p.AccumulateConstant) = (float)value;
                else Unsafe.As<long, double>(ref p.AccumulateConstant) = value;
                ref Expression root = ref c.Expressions[expression];
                p.Streaming = (long)root.NumEl * root.DType.ElementSize() >= StreamingMinBytes;
                if (p.Streaming) t_streamedWrites++;
            }
        }
        Run(c, expression, ref p);
    }

    /// <summary>The sum of the expression's elements, in the same order and precision as <see cref="Reductions.Sum{T}"/>.</summary>
    public static T Sum<T>(TensorContext c, int expression) where T : unmanaged, INumber<T>
    {
        int length = c.Expressions[expression].NumEl;
        int blocks = (length + BlockLength - 1) / BlockLength;
        int sizeClass = NativeBufferPool.SizeClass((long)blocks * sizeof(T));
        nint partials = c.Pool.Rent(sizeClass);
        try
        {
            Program p = default;
            p.Sink = Sink.Sum;
            p.Partials = (void*)partials;
            Run(c, expression, ref p);
            return ReductionDriver.Combine((T*)partials, blocks);
        }
        finally
        {
            c.Pool.Return(partials, sizeClass);
        }
    }

    private static void Run(TensorContext c, int root, ref Program p)
    {
        ref Expression node = ref c.Expressions[root];
        p.Length = node.NumEl;
        if (node.Storage >= 0)
        {
            // Already in memory: a copy program (a single instruction streaming it).
            EmitCopyOf(c, root, ref p);
        }
        else
        {
            Emit(c, root, ref p);
            ClearMarks(c, root);
        }
        void* program = Unsafe.AsPointer(ref p); // p lives on a caller's stack frame for the whole run
        if (!Chunking.ShouldSplit(p.Length))
        {
            if (node.DType == DType.Float32) RunRange<float>((Program*)program, 0, p.Length);
            else RunRange<double>((Program*)program, 0, p.Length);
            return;
        }
        if (node.DType == DType.Float32) WorkerPool.For(Chunking.ChunkCount(p.Length), &RunChunk<float>, program);
        else WorkerPool.For(Chunking.ChunkCount(p.Length), &RunChunk<double>, program);
    }

    private static void ClearMarks(TensorContext c, int expression)
    {
        ref Expression node = ref c.Expressions[expression];
        if (node.Mark < 0) return;
        node.Mark = -1;
        if (node.X.Source == OperandSource.Expression) ClearMarks(c, node.X.Index);
        if (node.Y.Source == OperandSource.Expression) ClearMarks(c, node.Y.Index);
        if (node.Z.Source == OperandSource.Expression) ClearMarks(c, node.Z.Index);
    }

    /// <summary>Appends the instructions of <paramref name="expression"/> after those of its operands (post-order, each once).</summary>
    private static int Emit(TensorContext c, int expression, ref Program p)
    {
        ref Expression node = ref c.Expressions[expression];
        if (node.Mark >= 0) return node.Mark;
        if (node.X.Source == OperandSource.Expression && c.Expressions[node.X.Index].Storage < 0) Emit(c, node.X.Index, ref p);
        if (node.Y.Source == OperandSource.Expression && c.Expressions[node.Y.Index].Storage < 0) Emit(c, node.Y.Index, ref p);
        if (node.Z.Source == OperandSource.Expression && c.Expressions[node.Z.Index].Storage < 0) Emit(c, node.Z.Index, ref p);
        int index = p.Count++;
        if (index >= MaxInstructions) throw new InvalidOperationException("Internal error: a fused expression outgrew its program.");
        ref Instruction ins = ref p.Code[index];
        ins.Kernel = node.Kernel;
        ins.Param = node.Param;
        ins.Aux = node.Aux;
        int kinds = 0, modes = 0;
        ins.X = OperandAddress(c, node.X, node.DType, ref p, 3 * index, ref kinds, ref modes, 0);
        ins.Y = OperandAddress(c, node.Y, node.DType, ref p, 3 * index + 1, ref kinds, ref modes, 1);
        ins.Z = OperandAddress(c, node.Z, node.DType, ref p, 3 * index + 2, ref kinds, ref modes, 2);
        ins.Kinds = kinds;
        ins.Modes = (byte)modes;
        node.Mark = index;
        return index;
    }

    private static void EmitCopyOf(TensorContext c, int expression, ref Program p)
    {
        ref Expression node = ref c.Expressions[expression];
        ref Instruction ins = ref p.Code[p.Count++];
        ins.Kernel = node.DType == DType.Float32
            ? (nint)(delegate*<void*, void*, void*, void*, int, int, int, double, void>)&ElementwiseKernel<float, CopyOperator>
            : (nint)(delegate*<void*, void*, void*, void*, int, int, int, double, void>)&ElementwiseKernel<double, CopyOperator>;
        ins.X = (byte*)c.Storages[node.Storage].Pointer;
        ins.Modes = 1;
        ins.Kinds = 6; // y and z unused: one value each
        ins.Y = ins.Z = (byte*)Unsafe.AsPointer(ref p.Constants[0]);
    }

    private static byte* OperandAddress(TensorContext c, in ExpressionOperand e, DType dtype, ref Program p, int constant,
        ref int kinds, ref int modes, int position)
    {
        switch (e.Source)
        {
            case OperandSource.Stream:
                modes |= 1 << (2 * position);
                return (byte*)c.Storages[e.Index].Pointer + (nint)e.Offset * dtype.ElementSize();
            case OperandSource.Expression:
                ref Expression operand = ref c.Expressions[e.Index];
                if (operand.Storage >= 0)
                {
                    modes |= 1 << (2 * position);
                    return (byte*)c.Storages[operand.Storage].Pointer;
                }
                modes |= 2 << (2 * position);
                return (byte*)((nint)operand.Mark * StageLength * dtype.ElementSize());
            default:
                kinds |= 1 << position;
                ref long slot = ref p.Constants[constant];
                if (dtype == DType.Float32) Unsafe.As<long, float>(ref slot) = (float)e.Value;
                else Unsafe.As<long, double>(ref slot) = e.Value;
                return (byte*)Unsafe.AsPointer(ref slot);
        }
    }

    private static void RunChunk<T>(void* program, int chunk) where T : unmanaged, INumber<T>
    {
        var (start, length) = Chunking.Range(chunk, ((Program*)program)->Length);
        RunRange<T>((Program*)program, start, length);
    }

    /// <remarks>
    /// Every instruction writes one stage into its own scratch buffer, the root too unless it is
    /// written straight into the destination: a sum takes the root's stages as they come, an
    /// accumulation adds each into the destination. A block-sized buffer for the root (16 KiB of
    /// float) took half of L1 and made W6's step a quarter slower.
    /// </remarks>
    private static void RunRange<T>(Program* p, nint start, nint length) where T : unmanaged, INumber<T>
    {
        int last = p->Count - 1;
        byte* scratch = Scratch.Get(p->Count * StageLength * sizeof(T));
        T* rootStage = (T*)(scratch + (nint)last * StageLength * sizeof(T));
        var accumulate = (delegate*<void*, void*, void*, void*, int, int, int, double, void>)p->AccumulateKernel;
        for (nint block = start; block < start + length; block += BlockLength)
        {
            int n = (int)Math.Min(BlockLength, start + length - block);
            var blockSum = new ChunkSum<T>(n); // the block is the reduction driver's chunk: the same order as an eager sum
            for (int stage = 0; stage < n; stage += StageLength)
            {
                int m = Math.Min(StageLength, n - stage);
                nint offset = (block + stage) * sizeof(T);
                for (int i = 0; i <= last; i++)
                {
                    ref Instruction ins = ref p->Code[i];
                    void* d = i == last && p->Sink == Sink.Write ? p->Destination + offset : scratch + (nint)i * StageLength * sizeof(T);
                    ((delegate*<void*, void*, void*, void*, int, int, int, double, void>)ins.Kernel)(
                        Address(ins.X, ins.Modes, 0, offset, scratch),
                        Address(ins.Y, ins.Modes, 2, offset, scratch),
                        Address(ins.Z, ins.Modes, 4, offset, scratch),
                        d, m, ins.Kinds, ins.Aux, ins.Param);
                }
                if (p->Sink == Sink.Accumulate)
                {
                    T* into = (T*)(p->Destination + offset);
                    if (p->Streaming) StreamingStore.AddOnto(*(T*)&p->AccumulateConstant, rootStage, into, m);
                    else if (p->AccumulateOntoConstant) accumulate(&p->AccumulateConstant, rootStage, rootStage, into, m, 1, 0, 0);
                    else accumulate(into, rootStage, rootStage, into, m, 0, 0, 0);
                }
                else if (p->Sink == Sink.Sum)
                {
                    // StageLength is a multiple of 64, so every stage but a block's last is whole four-vector steps.
                    if (stage + m < n) AddStage(ref blockSum, rootStage, m);
                    else ((T*)p->Partials)[block / BlockLength] = FinishStage(ref blockSum, rootStage, m);
                }
            }
        }
        if (p->Streaming) StreamingStore.Fence();
    }

    // Out of line: inlined, the sum's loops made RunRange's stage loop slower for every program (W6's step +8%).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void AddStage<T>(ref ChunkSum<T> sum, T* values, int length) where T : unmanaged, INumber<T>
        => sum.Add<AddOperator, Elements<T>, Broadcast<T>>(new(values), default, 0, length);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static T FinishStage<T>(ref ChunkSum<T> sum, T* values, int length) where T : unmanaged, INumber<T>
        => sum.Finish<AddOperator, Elements<T>, Broadcast<T>>(new(values), default, 0, length);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void* Address(byte* operand, byte modes, int shift, nint offset, byte* scratch) => ((modes >> shift) & 3) switch
    {
        0 => operand,
        1 => operand + offset,
        _ => scratch + (nint)operand,
    };

    // ---- block kernels -----------------------------------------------------------------------------

    /// <summary>Any elementwise operator as a block kernel.</summary>
    public static void ElementwiseKernel<T, TOp>(void* x, void* y, void* z, void* d, int n, int kinds, int aux, double param)
        where T : unmanaged, INumber<T> where TOp : struct, IElementwiseOperator
        => Executor.RunFlatSerial<T, TOp>(kinds, (T*)x, (T*)y, (T*)z, (T*)d, n);

    public static nint ElementwiseKernelFor<TOp>(DType dtype) where TOp : struct, IElementwiseOperator
        => dtype == DType.Float32
            ? (nint)(delegate*<void*, void*, void*, void*, int, int, int, double, void>)&ElementwiseKernel<float, TOp>
            : (nint)(delegate*<void*, void*, void*, void*, int, int, int, double, void>)&ElementwiseKernel<double, TOp>;

    /// <summary>Per-thread scratch: one stage of every instruction.</summary>
    private sealed class Scratch
    {
        [ThreadStatic] private static Scratch? t_scratch;
        private const int Bytes = MaxInstructions * StageLength * sizeof(double);

        // Page-aligned, so it lands the same way in every process: 64-byte aligned, where it landed
        // moved W6's step by up to 15%.
        private readonly byte* _pointer = (byte*)NativeMemory.AlignedAlloc(Bytes, 4096);

        public static byte* Get(int bytes)
        {
            if (bytes > Bytes) throw new InvalidOperationException("Internal error: fused scratch too small.");
            return (t_scratch ??= new Scratch())._pointer;
        }

        ~Scratch() => NativeMemory.AlignedFree(_pointer);
    }
}
