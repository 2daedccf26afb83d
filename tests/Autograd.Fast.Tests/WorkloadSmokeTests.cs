using AutogradFast.Tool.Workloads;

namespace AutogradFast.Tests;

/// <summary>
/// The peer workloads of shared/workloads.md (bench/peers) as tests: the generator reproduces the
/// reference values and every input sum, and one check step of each workload from fresh state gives
/// workloads.md's check values. The expected numbers are copied here from workloads.md, independently
/// of the tool's own table (which <c>autograd-fast peers --smoke</c> uses and which is checked too).
/// </summary>
public sealed class WorkloadSmokeTests
{
    // ---- generator -------------------------------------------------------------------------------

    [Fact]
    public void Sm64ReproducesTheReferenceValues()
    {
        Assert.Equal(0x118e846ea93bc949UL, PeerData.Sm64(41, 0));
        Assert.Equal(0x992ffac69a7acd4cUL, PeerData.Sm64(41, 1));
        Assert.Equal(0x1b9ec6ebbda97281UL, PeerData.Sm64(41, 2));
        Assert.Equal(0xe220a8397b1dcdafUL, PeerData.Sm64(0, 0)); // standard SplitMix64
    }

    [Fact]
    public void UniformAndNormalReproduceTheReferenceValuesBitForBit()
    {
        float[] u = PeerData.UniformValues(41, 16, -1, 1);
        Assert.Equal(-0.8628382682800293, (double)u[0]);
        Assert.Equal(0.1967766284942627, (double)u[1]);
        Assert.Equal(-0.784217119216919, (double)u[2]);

        float[] n = PeerData.NormalValues(61, 3, 0.1); // element i depends only on (seed, i)
        Assert.Equal(0.07410642504692078, (double)n[0]);
        Assert.Equal(0.0503920316696167, (double)n[1]);
        Assert.Equal(-0.0904509648680687, (double)n[2]);
    }

    public static TheoryData<string, ulong, int, double, double, bool, double> InputSums => new()
    {
        // name, seed, count, lo (or std), hi, normal, workloads.md's input sum
        { "W4 X", 41, 1 * 16, -1, 1, false, -2.074571132659912 },
        { "W4 W1", 42, 16 * 32, -0.25, 0.25, false, 3.076010376214981 },
        { "W4 b1", 43, 32, -0.25, 0.25, false, -0.22313329577445984 },
        { "W4 W2", 44, 32 * 1, -1 / Math.Sqrt(32), 1 / Math.Sqrt(32), false, 0.07223450252786279 },
        { "W4 b2", 45, 1, -1 / Math.Sqrt(32), 1 / Math.Sqrt(32), false, 0.1656091958284378 },
        { "W5 X", 51, 256 * 64, -1, 1, false, -15.207106828689575 },
        { "W5 Y", 52, 256 * 10, -1, 1, false, -15.812421798706055 },
        { "W5 W1", 53, 64 * 256, -0.125, 0.125, false, 7.844932481646538 },
        { "W5 b1", 54, 256, -0.125, 0.125, false, -2.3907638639211655 },
        { "W5 W2", 55, 256 * 256, -0.0625, 0.0625, false, -5.6091044023633 },
        { "W5 b2", 56, 256, -0.0625, 0.0625, false, -0.2314855232834816 },
        { "W5 W3", 57, 256 * 10, -0.0625, 0.0625, false, -1.5584001392126083 },
        { "W5 b3", 58, 10, -0.0625, 0.0625, false, -0.01659044623374939 },
        { "W6 x", 61, 4_194_304, 0.1, 0, true, -169.38783074723253 },
        { "W7 A", 71, 1024 * 1024, -1, 1, false, 623.8754879236221 },
        { "W7 B", 72, 1024 * 1024, -1, 1, false, -250.69048857688904 },
    };

    [Theory]
    [MemberData(nameof(InputSums))]
    public void GeneratorReproducesEveryInputSum(string name, ulong seed, int count, double a, double b, bool normal, double expected)
    {
        float[] values = normal ? PeerData.NormalValues(seed, count, a) : PeerData.UniformValues(seed, count, a, b);
        double sum = PeerData.ExactSum(values);
        Assert.True(Math.Abs(sum - expected) <= 1e-12 * Math.Max(1, Math.Abs(expected)), $"{name}: sum {sum:R}, expected {expected:R}");
    }

    [Fact]
    public void TheToolsOwnGeneratorCheckPasses() => Assert.Empty(PeerData.Verify());

    // ---- one check step per workload -------------------------------------------------------------

    /// <summary>
    /// workloads.md's check values and the tolerance each implies (see WorkloadCatalog.Expected for the
    /// reasoning): W6's y ±1, W5 1e-5 relative on the large sums, W7 4e-6 relative on sums of 1M GEMM
    /// outputs, printed decimals about one unit of their last digit, exact values a few roundings.
    /// </summary>
    private static readonly Dictionary<string, (string Key, double Value, double Tolerance)[]> Expected = new()
    {
        ["W1"] = [("y", 51, 1e-5), ("x.grad", 26, 1e-5), ("u.grad", 6, 1e-5)],
        ["W2"] = [("y", 28, 1e-5), ("x.grad[0]", 0, 1e-6), ("x.grad[1]", 4, 1e-6), ("x.grad[2]", 8, 1e-6), ("x.grad[3]", 12, 1e-6)],
        // torch-python's x.grad (500 float32 multiplies by float32(1.0001)); libtorch-cpp's 1.05126822 must fail.
        ["W3"] = [("y", 257.39468, 2e-4), ("x.grad", 1.05127704, 2e-7)],
        ["W4"] = [("loss", 0.06571377, 5e-8), ("W1.grad.sum", 0.0879058, 2e-7), ("b1.grad.sum", -0.0423730, 2e-7),
                  ("W2.grad.sum", -0.9276710, 2e-7), ("b2.grad.sum", -0.5126939, 2e-7)],
        ["W5"] = [("loss", 0.34711057, 0.34711057e-5), ("W1.grad.sum", -0.00632667, 1e-7), ("b1.grad.sum", 0.0178568, 1e-6),
                  ("W2.grad.sum", 1.2958853, 1.2958853e-5), ("b2.grad.sum", 0.0387852, 1e-6), ("W3.grad.sum", 0.0423774, 1e-6),
                  ("b3.grad.sum", 0.00405241, 1e-7)],
        ["W6"] = [("y", 4236907, 1), ("x.grad.sum", -347.8996, 347.8996e-5)],
        ["W7"] = [("A.grad.sum", -256707.17, 256707.17 * 4e-6), ("B.grad.sum", 638848.43, 638848.43 * 4e-6)],
        ["W8"] = [("c", 1433.6, 1433.6e-6), ("a.grad", 2048, 1e-3)],
    };

    [Theory]
    [InlineData("W1")]
    [InlineData("W2")]
    [InlineData("W3")]
    [InlineData("W4")]
    [InlineData("W5")]
    [InlineData("W6")]
    [InlineData("W7")]
    [InlineData("W8")]
    public void CheckStepFromFreshStateGivesWorkloadsMdCheckValues(string id)
    {
        IWorkload workload = WorkloadCatalog.Create(id);
        Assert.Equal(id, workload.Id);
        IReadOnlyDictionary<string, double> check = WorkloadTimer.CheckFromFreshState(workload);

        Assert.Equal(Expected[id].Select(e => e.Key), check.Keys);
        foreach (var (key, value, tolerance) in Expected[id])
            Assert.True(Math.Abs(check[key] - value) <= tolerance, $"{id} {key}: {check[key]:R}, expected {value:R} ± {tolerance:G3}");
        Assert.Empty(WorkloadCatalog.Failures(id, check)); // what `autograd-fast peers --smoke` decides
    }

    [Fact]
    public void W3CheckRejectsTheLibTorchValue()
    {
        var libtorch = new Dictionary<string, double> { ["y"] = 257.39468, ["x.grad"] = 1.05126822 };
        Assert.Single(WorkloadCatalog.Failures("W3", libtorch));
    }

    /// <summary>
    /// The step zeroes the gradients in place, so a second step from the same leaves accumulates into
    /// zeroed buffers and gives the same values (the workloads without an optimiser step).
    /// </summary>
    [Theory]
    [InlineData("W1")]
    [InlineData("W2")]
    [InlineData("W3")]
    [InlineData("W6")]
    [InlineData("W8")]
    public void LaterStepsRepeatTheCheckValues(string id)
    {
        IWorkload workload = WorkloadCatalog.Create(id);
        using (Autograd.Scope())
        {
            workload.Setup();
            IReadOnlyDictionary<string, double> first = workload.CheckStep();
            workload.Step();
            IReadOnlyDictionary<string, double> third = workload.CheckStep();
            Assert.Equal(first, third);
        }
    }

    /// <summary>Every step returns its memory to the pool: no live tensors or pooled bytes accumulate across steps.</summary>
    [Theory]
    [InlineData("W1")]
    [InlineData("W2")]
    [InlineData("W3")]
    [InlineData("W4")]
    [InlineData("W5")]
    [InlineData("W8")]
    public void StepsDoNotGrowThePool(string id)
    {
        IWorkload workload = WorkloadCatalog.Create(id);
        using (Autograd.Scope())
        {
            workload.Setup();
            for (int i = 0; i < 3; i++) workload.Step();
            var before = Autograd.PoolStatistics();
            for (int i = 0; i < 10; i++) workload.Step();
            var after = Autograd.PoolStatistics();
            Assert.Equal(before.LiveTensors, after.LiveTensors);
            Assert.Equal(before.PooledBytes, after.PooledBytes);
            Assert.Equal(before.RecordedNodes, after.RecordedNodes);
        }
    }
}
