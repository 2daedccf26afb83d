using System.Runtime.CompilerServices;
using AutogradFast.Storage;

namespace AutogradFast.Ops;

/// <summary>Factory fills: constants, ranges and the thread's seedable random stream.</summary>
internal static unsafe class Fill
{
    public static void Scalar(TensorContext c, int slot, double value)
    {
        ref TensorRecord r = ref c.Records[slot];
        int n = r.NumEl;
        switch (r.DType)
        {
            case DType.Float32: Write(c.Pointer<float>(ref r, slot), n, (float)value); break;
            case DType.Float64: Write(c.Pointer<double>(ref r, slot), n, value); break;
            case DType.Int64: Write(c.Pointer<long>(ref r, slot), n, (long)value); break;
            default: Write(c.Pointer<bool>(ref r, slot), n, value != 0); break;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Write<T>(T* p, int n, T value) where T : unmanaged
    {
        if (n == 1) *p = value; // a seed, a scalar: no call into Span.Fill
        else new Span<T>(p, n).Fill(value);
    }

    public static void Range(TensorContext c, int slot, double start, double step)
    {
        int n = c.Records[slot].NumEl;
        switch (c.Records[slot].DType)
        {
            case DType.Float32: { float* p = c.Pointer<float>(slot); for (int i = 0; i < n; i++) p[i] = (float)(start + i * step); break; }
            case DType.Float64: { double* p = c.Pointer<double>(slot); for (int i = 0; i < n; i++) p[i] = start + i * step; break; }
            case DType.Int64: { long* p = c.Pointer<long>(slot); for (int i = 0; i < n; i++) p[i] = (long)(start + i * step); break; }
            default: throw new NotSupportedException("arange does not produce bool tensors");
        }
    }

    public static void Random(TensorContext c, int slot, bool normal)
    {
        int n = c.Records[slot].NumEl;
        ref RandomStream rng = ref c.Random;
        if (c.Records[slot].DType == DType.Float32)
        {
            float* p = c.Pointer<float>(slot);
            for (int i = 0; i < n; i++) p[i] = (float)(normal ? rng.NextNormal() : rng.NextUniform());
        }
        else
        {
            double* p = c.Pointer<double>(slot);
            for (int i = 0; i < n; i++) p[i] = normal ? rng.NextNormal() : rng.NextUniform();
        }
    }
}

/// <summary>
/// A counter-based SplitMix64 stream (the generator the benchmark workloads define), one per graph
/// (it travels with the flow, as the graph does), reset by <see cref="Autograd.ManualSeed"/>. The
/// same seed gives the same tensors on any machine.
/// </summary>
internal struct RandomStream
{
    public ulong Seed;
    public ulong Counter;

    public static RandomStream Unseeded() => new() { Seed = (ulong)Environment.TickCount64 ^ 0x9E3779B97F4A7C15UL };

    public static ulong SplitMix64(ulong seed, ulong i)
    {
        ulong z = seed + (i + 1) * 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>k / 2^24 for a 24-bit k: exactly representable in float32, in [0, 1).</summary>
    public double NextUniform() => (SplitMix64(Seed, Counter++) >> 40) * (1.0 / (1 << 24));

    /// <summary>Box–Muller on two uniforms.</summary>
    public double NextNormal()
    {
        double u1 = NextUniform(), u2 = NextUniform();
        return Math.Sqrt(-2 * Math.Log(1 - u1)) * Math.Cos(2 * Math.PI * u2);
    }
}
