using System.Globalization;
using AutogradFast.Tool.Compare;

namespace AutogradFast.Tests;

/// <summary>
/// <c>autograd-fast compare</c> on small synthetic result files: both formats, the threshold-and-noise
/// rule, missing entries, failed benchmarks, bad input and the exit codes. Only the command's logic is
/// tested here; no timing happens in a test.
/// </summary>
public sealed class CompareTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("autograd-fast-compare-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    // ---- synthetic files ---------------------------------------------------------------------------

    /// <summary>A BenchmarkDotNet full-JSON report; a null median is a benchmark without statistics (it failed).</summary>
    private static string Bdn(params (string Method, string Parameters, double? Median, double StdDev)[] benchmarks)
    {
        var items = benchmarks.Select(b =>
        {
            string full = "Autograd.Fast.Benchmarks.Suite." + b.Method + (b.Parameters.Length > 0 ? $"({b.Parameters})" : "");
            string stats = b.Median is double m
                ? string.Create(CultureInfo.InvariantCulture, $$$"""{"N": 3, "Median": {{{m}}}, "Mean": {{{m}}}, "StandardDeviation": {{{b.StdDev}}}, "ConfidenceInterval": {"Margin": {{{18 * b.StdDev}}}}}""")
                : "null";
            return $$$"""{"DisplayInfo": "Suite.{{{b.Method}}}: ShortRun", "Namespace": "Autograd.Fast.Benchmarks", "Type": "Suite", "Method": "{{{b.Method}}}", "FullName": "{{{full}}}", "Statistics": {{{stats}}}, "Memory": {"BytesAllocatedPerOperation": 0}}""";
        });
        return $$$"""{"Title": "BenchmarkRun-joined", "HostEnvironmentInfo": {"ProcessorName": "test"}, "Benchmarks": [{{{string.Join(",\n", items)}}}]}""";
    }

    /// <summary>One peers JSON line.</summary>
    private static string Line(string workload, int threads, double median, double min, double max, string impl = "csharp", string variant = "default", string run = "1") =>
        string.Create(CultureInfo.InvariantCulture,
            $$$"""{"workload":"{{{workload}}}","name":"x","impl":"{{{impl}}}","threads":{{{threads}}},"run":"{{{run}}}","variant":"{{{variant}}}","median_ns":{{{median}}},"min_ns":{{{min}}},"max_ns":{{{max}}},"iters":10,"reps":5,"check":{"y":1},"env":{"processors":2}}""");

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = CompareCommand.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    private static string RowOf(string output, string key) =>
        output.Split('\n').Single(l => l.StartsWith(key + " ", StringComparison.Ordinal));

    // ---- BenchmarkDotNet JSON ----------------------------------------------------------------------

    [Fact]
    public void ASlowdownBeyondThresholdAndNoiseIsARegressionAndExitsOne()
    {
        string baseline = Write("base.json", Bdn(("A", "", 1000, 10), ("B", "Threads: 2", 2000, 20)));
        string current = Write("cur.json", Bdn(("A", "", 1300, 10), ("B", "Threads: 2", 2010, 20)));

        var (code, output, _) = Run(baseline, current);

        Assert.Equal(1, code);
        Assert.Contains("REGRESSION", RowOf(output, "Suite.A"), StringComparison.Ordinal);
        Assert.Contains("+30.0%", RowOf(output, "Suite.A"), StringComparison.Ordinal);
        Assert.Contains("same", RowOf(output, "Suite.B(Threads: 2)"), StringComparison.Ordinal);
        Assert.Contains("rule: REGRESSION when current/baseline - 1 > 10.0% (threshold) and > the combined noise", output, StringComparison.Ordinal);
        Assert.Contains("RESULT: REGRESSION (exit 1)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void ASpeedUpIsReportedAsFasterAndExitsZero()
    {
        string baseline = Write("base.json", Bdn(("A", "", 1000, 10)));
        string current = Write("cur.json", Bdn(("A", "", 600, 6)));

        var (code, output, _) = Run(baseline, current);

        Assert.Equal(0, code);
        Assert.Contains("-40.0%", RowOf(output, "Suite.A"), StringComparison.Ordinal);
        Assert.Contains("FASTER", RowOf(output, "Suite.A"), StringComparison.Ordinal);
        Assert.Contains("RESULT: no regression (exit 0)", output, StringComparison.Ordinal);
    }

    [Fact]
    public void ASlowdownBeyondTheThresholdButWithinTheNoiseIsNotARegression()
    {
        // +20% against noise of 2 x 150 / 1000 = 30% per side, sqrt(0.3^2 + 0.25^2) = 39% combined.
        string baseline = Write("base.json", Bdn(("A", "", 1000, 150)));
        string current = Write("cur.json", Bdn(("A", "", 1200, 150)));

        var (code, output, _) = Run(baseline, current);

        Assert.Equal(0, code);
        Assert.Contains("+20.0%", RowOf(output, "Suite.A"), StringComparison.Ordinal);
        Assert.Contains("±39.1%", RowOf(output, "Suite.A"), StringComparison.Ordinal);
        Assert.Contains("within noise", RowOf(output, "Suite.A"), StringComparison.Ordinal);
    }

    [Fact]
    public void TheThresholdOptionIsAppliedAndStated()
    {
        string baseline = Write("base.json", Bdn(("A", "", 1000, 1)));
        string current = Write("cur.json", Bdn(("A", "", 1080, 1)));

        Assert.Equal(0, Run(baseline, current).Code);                 // +8% < 10%
        var (code, output, _) = Run(baseline, current, "--threshold", "5%");
        Assert.Equal(1, code);                                        // +8% > 5% and > 0.3% noise
        Assert.Contains("> 5.0% (threshold)", output, StringComparison.Ordinal);
        Assert.Equal(1, Run(baseline, current, "--threshold=5").Code);
    }

    [Fact]
    public void TheOverallShiftIsShownAndWarnsWhenEverythingMovedTogether()
    {
        string baseline = Write("base.json", Bdn(("A", "", 1000, 1), ("B", "", 1000, 1), ("C", "", 1000, 1)));
        string together = Write("together.json", Bdn(("A", "", 1080, 1), ("B", "", 1090, 1), ("C", "", 1070, 1)));
        string one = Write("one.json", Bdn(("A", "", 1000, 1), ("B", "", 1500, 1), ("C", "", 1010, 1)));

        var (code, output, _) = Run(baseline, together);
        Assert.Equal(0, code);                                        // +8%: within the threshold, but all alike
        Assert.Contains("overall shift (median change of the compared entries): +8.0%; most entries moved together", output, StringComparison.Ordinal);

        (code, output, _) = Run(baseline, one);
        Assert.Equal(1, code);
        Assert.Contains("overall shift (median change of the compared entries): +1.0%.", output, StringComparison.Ordinal);
    }

    [Fact]
    public void MissingEntriesAreListedButDoNotFail()
    {
        string baseline = Write("base.json", Bdn(("A", "", 1000, 10), ("Gone", "", 1000, 10)));
        string current = Write("cur.json", Bdn(("A", "", 1010, 10), ("New", "Elements: 16", 50, 1)));

        var (code, output, _) = Run(baseline, current);

        Assert.Equal(0, code);
        Assert.Contains("only in baseline (not compared): Suite.Gone", output, StringComparison.Ordinal);
        Assert.Contains("only in current (not compared):  Suite.New(Elements: 16)", output, StringComparison.Ordinal);
        Assert.Contains("1 compared:", output, StringComparison.Ordinal);
    }

    [Fact]
    public void ABenchmarkThatHasNoResultNowFailsAndOneWithoutABaselineResultIsSkipped()
    {
        string baseline = Write("base.json", Bdn(("A", "", 1000, 10), ("B", "", null, 0)));
        string current = Write("cur.json", Bdn(("A", "", null, 0), ("B", "", 900, 9)));

        var (code, output, _) = Run(baseline, current);

        Assert.Equal(1, code);
        Assert.Contains("FAILED (no result now)", RowOf(output, "Suite.A"), StringComparison.Ordinal);
        Assert.Contains("no baseline result", RowOf(output, "Suite.B"), StringComparison.Ordinal);
    }

    [Fact]
    public void BenchmarksAreMatchedByNameAndParametersWithoutTheNamespace()
    {
        ResultSet set = CompareCommand.Parse(Bdn(("W5MlpBatch", "Threads: 1", 2.5e6, 1e5)), "x");
        BenchEntry entry = Assert.Single(set.Entries);
        Assert.Equal("Suite.W5MlpBatch(Threads: 1)", entry.Key);
        Assert.Equal(2.5e6, entry.MedianNs);
        Assert.Equal(0.08, entry.Noise, 12);   // 2 x standard deviation / median

        // A renamed root namespace still matches the committed baseline.
        string renamed = Bdn(("W5MlpBatch", "Threads: 1", 2.6e6, 1e5)).Replace("Autograd.Fast.Benchmarks", "AutogradFast.Benchmarks", StringComparison.Ordinal);
        ComparisonReport report = CompareCommand.Compare(set, CompareCommand.Parse(renamed, "y"), 0.10);
        Assert.Equal(Verdict.Same, Assert.Single(report.Matched).Verdict);
    }

    // ---- JSON lines --------------------------------------------------------------------------------

    [Fact]
    public void JsonLinesAreMatchedByWorkloadImplThreadsAndVariant()
    {
        string baseline = Write("base.jsonl", string.Join('\n',
            Line("W1", 1, 1000, 990, 1010),
            Line("W5", 1, 5000, 4950, 5050),
            Line("W5", 2, 3000, 2970, 3030),
            Line("W5", 2, 100, 99, 101, impl: "torch-python", variant: "tuned")) + "\n");
        string current = Write("cur.jsonl", string.Join('\n',
            Line("W1", 1, 1000, 990, 1010),
            Line("W5", 1, 5000, 4950, 5050),
            Line("W5", 2, 4000, 3960, 4040),                                  // +33%: regression
            Line("W5", 2, 50, 49, 51, impl: "torch-python", variant: "tuned")) + "\n");

        var (code, output, _) = Run(baseline, current);

        Assert.Equal(1, code);
        Assert.Contains("REGRESSION", RowOf(output, "W5 csharp threads=2 default"), StringComparison.Ordinal);
        Assert.Contains("same", RowOf(output, "W5 csharp threads=1 default"), StringComparison.Ordinal);
        Assert.Contains("FASTER", RowOf(output, "W5 torch-python threads=2 tuned"), StringComparison.Ordinal);
        Assert.Contains("(max_ns - min_ns) / 2 / median", output, StringComparison.Ordinal);
    }

    [Fact]
    public void JsonLinesNoiseComesFromTheMinMaxSpreadOverAllRunsAndTheMedianIsTheBestRun()
    {
        ResultSet set = CompareCommand.Parse(string.Join('\n',
            Line("W3", 1, 1100, 1000, 1200, run: "1"),
            Line("W3", 1, 1000, 900, 1300, run: "2"),
            "{\"note\": \"not a timing line\"}"), "runs.jsonl");

        BenchEntry entry = Assert.Single(set.Entries);
        Assert.Equal("W3 csharp threads=1 default", entry.Key);
        Assert.Equal(1000, entry.MedianNs);
        Assert.Equal((1300 - 900) / 2.0 / 1000, entry.Noise, 12);
        Assert.Equal(2, entry.Samples);
    }

    [Fact]
    public void ASlowdownWithinTheMinMaxSpreadIsNotARegression()
    {
        string baseline = Write("base.jsonl", Line("W6", 1, 50e6, 35e6, 65e6));   // ±30%
        string current = Write("cur.jsonl", Line("W6", 1, 60e6, 45e6, 75e6));     // +20%, ±25%

        var (code, output, _) = Run(baseline, current);

        Assert.Equal(0, code);
        Assert.Contains("within noise", RowOf(output, "W6 csharp threads=1 default"), StringComparison.Ordinal);
    }

    // ---- the rule itself ---------------------------------------------------------------------------

    [Theory]
    [InlineData(1000.0, 1050.0, 0.00, "Same")]          // +5% <= 10%
    [InlineData(1000.0, 1099.0, 0.00, "Same")]
    [InlineData(1000.0, 1150.0, 0.00, "Regression")]
    [InlineData(1000.0, 1150.0, 0.20, "WithinNoise")]   // noise sqrt(2) x 20% = 28%
    [InlineData(1000.0, 800.0, 0.00, "Faster")]
    [InlineData(1000.0, 800.0, 0.20, "WithinNoise")]
    public void JudgeAppliesThresholdAndCombinedNoise(double baseline, double current, double noisePerSide, string expected)
    {
        EntryComparison c = CompareCommand.Judge(new BenchEntry("k", baseline, noisePerSide, 3), new BenchEntry("k", current, noisePerSide, 3), 0.10);
        Assert.Equal(expected, c.Verdict.ToString());
        Assert.Equal(Math.Sqrt(2) * noisePerSide, c.Noise, 12);
    }

    [Theory]
    [InlineData("10%", 0.10)]
    [InlineData("2.5%", 0.025)]
    [InlineData("15", 0.15)]
    public void ThresholdsParseAsPercentages(string text, double expected)
    {
        Assert.True(CompareCommand.TryParseThreshold(text, out double threshold));
        Assert.Equal(expected, threshold, 12);
    }

    // ---- bad input: exit 2 -------------------------------------------------------------------------

    [Fact]
    public void MalformedInputExitsTwoWithTheReason()
    {
        string good = Write("good.json", Bdn(("A", "", 1000, 10)));
        string truncated = Write("truncated.json", Bdn(("A", "", 1000, 10))[..60]);
        string empty = Write("empty.json", "");
        string noEntries = Write("other.json", """{"Benchmarks": []}""");
        string badLine = Write("bad.jsonl", Line("W1", 1, 1000, 990, 1010) + "\nPASS W1 seed-poly\n");

        var (code, _, error) = Run(good, truncated);
        Assert.Equal(2, code);
        Assert.Contains("neither a BenchmarkDotNet full-JSON report nor JSON lines", error, StringComparison.Ordinal);

        Assert.Equal(2, Run(good, empty).Code);
        Assert.Equal(2, Run(good, noEntries).Code);
        (code, _, error) = Run(badLine, badLine);
        Assert.Equal(2, code);
        Assert.Contains("line 2", error, StringComparison.Ordinal);
        (code, _, error) = Run(good, Path.Combine(_dir, "does-not-exist.json"));
        Assert.Equal(2, code);
        Assert.Contains("cannot read", error, StringComparison.Ordinal);
    }

    [Fact]
    public void FilesOfDifferentKindsOrWithNothingInCommonExitTwo()
    {
        string bdn = Write("a.json", Bdn(("A", "", 1000, 10)));
        string other = Write("b.json", Bdn(("B", "", 1000, 10)));
        string lines = Write("c.jsonl", Line("W1", 1, 1000, 990, 1010));

        var (code, _, error) = Run(bdn, lines);
        Assert.Equal(2, code);
        Assert.Contains("compare files of one kind", error, StringComparison.Ordinal);
        (code, _, error) = Run(bdn, other);
        Assert.Equal(2, code);
        Assert.Contains("no benchmark in common", error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData]
    [InlineData("only-one.json")]
    [InlineData("a.json", "b.json", "c.json")]
    [InlineData("a.json", "b.json", "--threshold", "ten")]
    [InlineData("a.json", "b.json", "--threshold", "0%")]
    [InlineData("a.json", "b.json", "--threshold")]
    [InlineData("a.json", "b.json", "--verbose")]
    public void BadArgumentsExitTwoWithTheUsage(params string[] args)
    {
        var (code, _, error) = Run(args);
        Assert.Equal(2, code);
        Assert.Contains("autograd-fast compare BASELINE CURRENT", error, StringComparison.Ordinal);
    }

    [Fact]
    public void TheCommittedBaselinesAreReadable()
    {
        string[] baselines = Directory.GetFiles(Path.Combine(RepositoryPaths.Root, "bench", "baselines"), "*.json");
        Assert.NotEmpty(baselines);
        foreach (string file in baselines)
        {
            ResultSet set = CompareCommand.Load(file);
            Assert.Equal("BenchmarkDotNet JSON", set.Format);
            Assert.Contains(set.Entries, e => e.HasResult);
            ComparisonReport self = CompareCommand.Compare(set, set, CompareCommand.DefaultThreshold);
            Assert.False(self.HasRegression);
        }
        ResultSet peers = CompareCommand.Load(Path.Combine(RepositoryPaths.Root, "bench", "peers", "results", "2026-11-21.jsonl"));
        Assert.Equal("JSON lines", peers.Format);
        Assert.Contains(peers.Entries, e => e.Key == "W7 csharp threads=2 default");
    }
}
