using AutogradFast.Tool.Workloads;
using BenchmarkDotNet.Attributes;

namespace AutogradFast.Benchmarks;

/// <summary>The ops of the kernel suite.</summary>
public enum KernelOp
{
    Add, Mul, MulScalar, Div, Neg, Exp, Log, Tanh, Sigmoid, Relu, Pow2, Pow3, Sum, Mean, Norm, Dot, MatMul,
}

/// <summary>
/// Each op's forward and forward + backward on float32 leaves of 16, 1 Ki, 64 Ki and 4 Mi elements
/// (MatMul: n x n times n x n with n^2 that many elements, n = 4, 32, 256, 2048), at one thread.
/// The leaves (requires_grad) are created in the global setup; every invocation is one step inside
/// <c>using (Autograd.Scope())</c>, which returns its tensors and nodes to the pool. Forward records
/// the graph, as a forward on leaves that require grad does. The backward of a non-scalar result is
/// seeded with a ones tensor made in the setup (<c>y.backward(ones)</c>), so it times the op's own
/// backward and not a sum on top. Forward computes its result into memory even where the library would
/// defer it (elementwise results of 128 Ki elements and more are fused until read), so it times the
/// kernel. Gradients accumulate into the leaves' .Grad across invocations,
/// as in PyTorch without zero_grad; the inputs keep every accumulated value finite.
/// Iterations of 250 ms instead of BenchmarkDotNet's 500 ms keep a short run of all 136 cases to
/// about half the time (it applies to every job, --job short included).
/// </summary>
[IterationTime(250)]
public class KernelBenchmarks
{
    private Tensor _a, _b, _seed;
    private AutogradScope _scope;
    private bool _open;

    [ParamsAllValues] public KernelOp Op { get; set; }

    [Params(16, 1024, 65536, 4194304)] public int Elements { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        Cleanup();
        LibraryThreads.Set(1);
        _scope = Autograd.Scope();
        _open = true;
        int[] shape = Op == KernelOp.MatMul ? [Side(Elements), Side(Elements)] : [Elements];
        // a in [-1, 1) (log: [0.5, 2)), b in [0.5, 2): no division by ~0, log of a positive number.
        _a = (Op == KernelOp.Log ? PeerData.Uniform(1, shape, 0.5, 2) : PeerData.Uniform(1, shape, -1, 1)).RequiresGrad_(true);
        _b = PeerData.Uniform(2, shape, 0.5, 2).RequiresGrad_(true);
        _seed = Tensor.Ones(shape);
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        if (_open) _scope.Dispose();
        _open = false;
    }

    [Benchmark]
    public void Forward()
    {
        using (Autograd.Scope())
        {
            Apply().Evaluate(); // large elementwise results are deferred: compute them, as a read would
        }
    }

    [Benchmark]
    public void ForwardBackward()
    {
        using (Autograd.Scope())
        {
            Tensor y = Apply();
            if (IsReduction(Op)) y.Backward();
            else y.Backward(_seed);
        }
    }

    private Tensor Apply() => Op switch
    {
        KernelOp.Add => _a + _b,
        KernelOp.Mul => _a * _b,
        KernelOp.MulScalar => _a * 1.5,
        KernelOp.Div => _a / _b,
        KernelOp.Neg => -_a,
        KernelOp.Exp => _a.Exp(),
        KernelOp.Log => _a.Log(),
        KernelOp.Tanh => _a.Tanh(),
        KernelOp.Sigmoid => _a.Sigmoid(),
        KernelOp.Relu => _a.Relu(),
        KernelOp.Pow2 => _a.Pow(2),
        KernelOp.Pow3 => _a.Pow(3),
        KernelOp.Sum => _a.Sum(),
        KernelOp.Mean => _a.Mean(),
        KernelOp.Norm => _a.Norm(),
        KernelOp.Dot => Tensor.Dot(_a, _b),
        KernelOp.MatMul => Tensor.MatMul(_a, _b),
        _ => throw new ArgumentOutOfRangeException(nameof(Op)),
    };

    private static bool IsReduction(KernelOp op) => op is KernelOp.Sum or KernelOp.Mean or KernelOp.Norm or KernelOp.Dot;

    /// <summary>The side of the square matrix with about <paramref name="elements"/> elements (all four sizes are squares).</summary>
    private static int Side(int elements) => (int)Math.Round(Math.Sqrt(elements));
}
