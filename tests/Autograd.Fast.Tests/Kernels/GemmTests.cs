using System.Numerics;
using System.Runtime.InteropServices;
using AutogradFast.LinearAlgebra;
using AutogradFast.Simd;
using AutogradFast.Threading;
using Xunit.Abstractions;

namespace AutogradFast.Tests;

/// <summary>
/// The packed GEMM against a double-precision triple loop, in all three layouts, for float and double:
/// every shape up to 20³ (through the public entry points and straight through the packed kernel, so
/// edge tiles are covered even where the entry points take the dot/axpy paths), odd and skinny shapes,
/// misaligned operands, k = 0; and bitwise-identical results at one and two threads.
/// </summary>
public sealed unsafe class GemmTests(ITestOutputHelper output)
{
    private enum Layout { NN, NT, TN }

    private static readonly Layout[] Layouts = [Layout.NN, Layout.NT, Layout.TN];

    /// <summary>Native operands with a chosen misalignment, filled with values in [-1, 1).</summary>
    private sealed class Operands<T> : IDisposable where T : unmanaged, INumber<T>
    {
        private readonly void* _a, _b, _c;
        public readonly T* A, B, C;
        public readonly int M, K, N;

        public Operands(int m, int k, int n, int misalignElements, int seed)
        {
            (M, K, N) = (m, k, n);
            _a = NativeMemory.AlignedAlloc((nuint)((Math.Max(1, m * k) + 16) * sizeof(T)), 64);
            _b = NativeMemory.AlignedAlloc((nuint)((Math.Max(1, k * n) + 16) * sizeof(T)), 64);
            _c = NativeMemory.AlignedAlloc((nuint)((Math.Max(1, m * n) + 16) * sizeof(T)), 64);
            A = (T*)_a + misalignElements;
            B = (T*)_b + misalignElements;
            C = (T*)_c + misalignElements;
            var random = new Random(seed);
            for (int i = 0; i < m * k; i++) A[i] = T.CreateTruncating(random.NextDouble() * 2 - 1);
            for (int i = 0; i < k * n; i++) B[i] = T.CreateTruncating(random.NextDouble() * 2 - 1);
            Poison();
        }

        /// <summary>C must be overwritten, never accumulated into.</summary>
        public void Poison()
        {
            for (int i = 0; i < M * N; i++) C[i] = T.CreateTruncating(double.NaN);
        }

        public void Dispose()
        {
            NativeMemory.AlignedFree(_a);
            NativeMemory.AlignedFree(_b);
            NativeMemory.AlignedFree(_c);
        }
    }

    /// <summary>op(A)[i,p]: A is [m,k] for NN and NT, [k,m] for TN.</summary>
    private static double AOf<T>(Operands<T> o, Layout layout, int i, int p) where T : unmanaged, INumber<T>
        => double.CreateTruncating(layout == Layout.TN ? o.A[p * o.M + i] : o.A[i * o.K + p]);

    /// <summary>op(B)[p,j]: B is [k,n] for NN and TN, [n,k] for NT.</summary>
    private static double BOf<T>(Operands<T> o, Layout layout, int p, int j) where T : unmanaged, INumber<T>
        => double.CreateTruncating(layout == Layout.NT ? o.B[j * o.K + p] : o.B[p * o.N + j]);

    private static void Public<T>(Operands<T> o, Layout layout) where T : unmanaged, INumber<T>
    {
        switch (layout)
        {
            case Layout.NN: Gemm.NN(o.A, o.B, o.C, o.M, o.K, o.N); break;
            case Layout.NT: Gemm.NT(o.A, o.B, o.C, o.M, o.K, o.N); break;
            default: Gemm.TN(o.A, o.B, o.C, o.M, o.K, o.N); break;
        }
    }

    private static void PackedOnly<T>(Operands<T> o, Layout layout) where T : unmanaged, INumber<T>
        => Gemm.Packed(o.A, layout == Layout.TN, o.B, layout == Layout.NT, o.C, o.M, o.K, o.N);

    /// <summary>Checks C against the double triple loop; the bound is a few ulps of T per term of |a|·|b|.</summary>
    private static string? Check<T>(Operands<T> o, Layout layout, string what) where T : unmanaged, INumber<T>
    {
        double eps = typeof(T) == typeof(float) ? 1.0 / (1 << 23) : 1.0 / (1L << 52);
        for (int i = 0; i < o.M; i++)
        {
            for (int j = 0; j < o.N; j++)
            {
                double sum = 0, magnitude = 0;
                for (int p = 0; p < o.K; p++)
                {
                    double term = AOf(o, layout, i, p) * BOf(o, layout, p, j);
                    sum += term;
                    magnitude += Math.Abs(term);
                }
                double got = double.CreateTruncating(o.C[i * o.N + j]);
                double tolerance = 2 * (o.K + 2) * eps * magnitude + 1e-300;
                if (!(Math.Abs(got - sum) <= tolerance))
                    return $"{what} {typeof(T).Name} {layout} m={o.M} k={o.K} n={o.N}: C[{i},{j}] = {got}, expected {sum} (tolerance {tolerance})";
            }
        }
        return null;
    }

    private static void RunAndCheck<T>(List<string> failures, int m, int k, int n, int misalign, bool packedOnly) where T : unmanaged, INumber<T>
    {
        using var o = new Operands<T>(m, k, n, misalign, seed: m * 10007 + k * 101 + n);
        foreach (Layout layout in Layouts)
        {
            o.Poison();
            if (packedOnly) PackedOnly(o, layout);
            else Public(o, layout);
            if (Check(o, layout, packedOnly ? "packed" : "public") is { } failure) failures.Add(failure);
        }
    }

    private void Report(List<string> failures)
    {
        output.WriteLine($"micro-kernel: float {GemmMicroKernel.Describe<float>()}, double {GemmMicroKernel.Describe<double>()}");
        foreach (string f in failures.Take(20)) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{failures.Count} wrong products, first: {failures.FirstOrDefault()}");
    }

    [Fact]
    public void EveryShapeUpTo20_MatchesTheTripleLoop()
    {
        var failures = new List<string>();
        for (int m = 1; m <= 20; m++)
            for (int k = 1; k <= 20; k++)
                for (int n = 1; n <= 20; n++)
                {
                    int misalign = (m + k + n) % 3; // aligned, and off by one or two elements
                    RunAndCheck<float>(failures, m, k, n, misalign, packedOnly: false);
                    RunAndCheck<double>(failures, m, k, n, misalign, packedOnly: false);
                    RunAndCheck<float>(failures, m, k, n, misalign, packedOnly: true);
                    RunAndCheck<double>(failures, m, k, n, misalign, packedOnly: true);
                }
        Report(failures);
    }

    public static TheoryData<int, int, int> OddShapes() => new()
    {
        { 17, 33, 65 }, { 65, 33, 17 }, { 33, 65, 17 }, { 255, 257, 129 }, { 129, 255, 257 },
        { 1, 1024, 1 }, { 1024, 1, 1024 }, { 1024, 1024, 1 }, { 1, 1024, 1024 }, { 1024, 2, 3 }, { 3, 1024, 2 },
        { 2, 1024, 3 }, { 256, 256, 10 }, { 256, 10, 256 }, { 10, 256, 256 }, { 64, 256, 256 }, { 256, 64, 256 },
        { 31, 600, 47 }, // more than one depth block
        { 43, 513, 9 },
    };

    [Theory]
    [MemberData(nameof(OddShapes))]
    public void OddAndSkinnyShapes_MatchTheTripleLoop(int m, int k, int n)
    {
        var failures = new List<string>();
        foreach (int misalign in (int[])[0, 1])
        {
            RunAndCheck<float>(failures, m, k, n, misalign, packedOnly: false);
            RunAndCheck<double>(failures, m, k, n, misalign, packedOnly: false);
            if ((long)m * n * k <= 1L << 22)
            {
                RunAndCheck<float>(failures, m, k, n, misalign, packedOnly: true);
                RunAndCheck<double>(failures, m, k, n, misalign, packedOnly: true);
            }
        }
        Report(failures);
    }

    /// <summary>
    /// Products bigger than one packing job (several jobs along K) or one block of C (more than 4096
    /// rows or columns), checked on a sample of rows.
    /// </summary>
    [Theory]
    [InlineData(4096, 2048, 48)]
    [InlineData(4100, 5, 300)]
    [InlineData(300, 5, 4100)]
    public void BlockedAlongEveryDimension_MatchesTheTripleLoop(int m, int k, int n)
    {
        var failures = new List<string>();
        foreach (Layout layout in Layouts)
        {
            using var o = new Operands<float>(m, k, n, 1, seed: 11);
            Public(o, layout);
            double eps = 1.0 / (1 << 23);
            for (int i = 0; i < m && failures.Count == 0; i += 97)
            {
                for (int j = 0; j < n; j++)
                {
                    double sum = 0, magnitude = 0;
                    for (int p = 0; p < k; p++)
                    {
                        double term = AOf(o, layout, i, p) * BOf(o, layout, p, j);
                        sum += term;
                        magnitude += Math.Abs(term);
                    }
                    double got = o.C[(long)i * n + j];
                    if (!(Math.Abs(got - sum) <= 2 * (k + 2) * eps * magnitude))
                    {
                        failures.Add($"{layout} m={m} k={k} n={n}: C[{i},{j}] = {got}, expected {sum}");
                        break;
                    }
                }
            }
        }
        Report(failures);
    }

    [Theory]
    [InlineData(5, 7)]
    [InlineData(1, 1)]
    [InlineData(40, 33)]
    public void EmptyDepth_GivesZeros(int m, int n)
    {
        foreach (Layout layout in Layouts)
        {
            using var f = new Operands<float>(m, 0, n, 1, seed: 1);
            Public(f, layout);
            for (int i = 0; i < m * n; i++) Assert.Equal(0f, f.C[i]);
            f.Poison();
            PackedOnly(f, layout);
            for (int i = 0; i < m * n; i++) Assert.Equal(0f, f.C[i]);
            using var d = new Operands<double>(m, 0, n, 0, seed: 1);
            Public(d, layout);
            for (int i = 0; i < m * n; i++) Assert.Equal(0d, d.C[i]);
        }
    }

    [Fact]
    public void Int64_MatchesTheTripleLoopExactly()
    {
        foreach ((int m, int k, int n) in new[] { (3, 4, 5), (1, 7, 1), (9, 1, 4), (17, 6, 1), (1, 5, 13) })
            foreach (Layout layout in Layouts)
            {
                using var o = new Operands<long>(m, k, n, 1, seed: 7);
                for (int i = 0; i < m * k; i++) o.A[i] = i % 7 - 3;
                for (int i = 0; i < k * n; i++) o.B[i] = i % 5 - 2;
                Public(o, layout);
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++)
                    {
                        long sum = 0;
                        for (int p = 0; p < k; p++) sum += (long)(AOf(o, layout, i, p) * BOf(o, layout, p, j));
                        Assert.Equal(sum, o.C[i * n + j]);
                    }
            }
    }

    public static TheoryData<int, int, int> ThreadedShapes() => new()
    {
        { 256, 64, 256 }, { 256, 256, 256 }, { 256, 256, 10 }, { 256, 10, 256 }, { 64, 256, 256 }, { 1024, 1024, 1024 }, { 300, 700, 90 },
    };

    [Theory]
    [MemberData(nameof(ThreadedShapes))]
    public void OneAndTwoThreads_GiveBitwiseIdenticalResults(int m, int k, int n)
    {
        int saved = WorkerPool.Threads;
        try
        {
            foreach (Layout layout in Layouts)
            {
                AssertThreadIndependent<float>(m, k, n, layout);
                AssertThreadIndependent<double>(m, k, n, layout);
            }
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }

    private static void AssertThreadIndependent<T>(int m, int k, int n, Layout layout) where T : unmanaged, INumber<T>
    {
        using var o = new Operands<T>(m, k, n, 1, seed: 3);
        WorkerPool.Threads = 1;
        Public(o, layout);
        T[] single = new Span<T>(o.C, m * n).ToArray();
        WorkerPool.Threads = 2;
        for (int repeat = 0; repeat < 2; repeat++)
        {
            o.Poison();
            Public(o, layout);
            T[] twoThreads = new Span<T>(o.C, m * n).ToArray();
            int mismatch = -1;
            for (int i = 0; i < m * n && mismatch < 0; i++)
                if (!single[i].Equals(twoThreads[i])) mismatch = i;
            Assert.True(mismatch < 0, $"{typeof(T).Name} {layout} {m}x{k}x{n}: element {mismatch} differs between 1 and 2 threads");
        }
    }

    [Fact]
    public void SteadyStateProducts_AllocateNothing()
    {
        int saved = WorkerPool.Threads;
        try
        {
            using var o = new Operands<float>(256, 256, 256, 0, seed: 5);
            foreach (int threads in (int[])[1, 2])
            {
                WorkerPool.Threads = threads;
                foreach (Layout layout in Layouts) Public(o, layout); // grows this thread's packing buffers once
                long before = GC.GetAllocatedBytesForCurrentThread();
                for (int repeat = 0; repeat < 3; repeat++)
                    foreach (Layout layout in Layouts) Public(o, layout);
                Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
            }
        }
        finally
        {
            WorkerPool.Threads = saved;
        }
    }
}
