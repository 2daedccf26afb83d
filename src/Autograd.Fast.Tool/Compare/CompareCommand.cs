using System.Globalization;
using System.Text.Json;

namespace AutogradFast.Tool.Compare;

/// <summary>One benchmark's result in a file: its median per operation and the relative noise around it.</summary>
/// <param name="Key">What matches it across files (see <see cref="CompareCommand"/>).</param>
/// <param name="MedianNs">Median time per operation in ns (NaN when the file has no result for it).</param>
/// <param name="Noise">Relative half-width of its spread, e.g. 0.03 for ±3% (0 when unknown).</param>
/// <param name="Samples">How many measurements the median and the noise come from.</param>
internal sealed record BenchEntry(string Key, double MedianNs, double Noise, int Samples)
{
    public bool HasResult => double.IsFinite(MedianNs) && MedianNs > 0;
}

/// <summary>The entries of one result file, by key, in file order.</summary>
internal sealed record ResultSet(string Format, IReadOnlyList<BenchEntry> Entries);

internal enum Verdict
{
    /// <summary>The change is within the threshold.</summary>
    Same,

    /// <summary>The change exceeds the threshold but not the combined noise.</summary>
    WithinNoise,

    /// <summary>Faster by more than the threshold and the combined noise.</summary>
    Faster,

    /// <summary>Slower by more than the threshold and the combined noise.</summary>
    Regression,

    /// <summary>The baseline has a result and the current file has none (the benchmark failed).</summary>
    Failed,

    /// <summary>The baseline has no result: nothing to compare with.</summary>
    NoBaseline,
}

/// <summary>One key present in both files.</summary>
internal sealed record EntryComparison(BenchEntry Baseline, BenchEntry Current, double Change, double Noise, Verdict Verdict)
{
    public string Key => Baseline.Key;
}

/// <summary>The comparison of two result sets.</summary>
internal sealed record ComparisonReport(
    IReadOnlyList<EntryComparison> Matched,
    IReadOnlyList<string> OnlyInBaseline,
    IReadOnlyList<string> OnlyInCurrent,
    double Threshold)
{
    /// <summary>True when an entry regressed beyond the threshold and the noise, or no longer has a result.</summary>
    public bool HasRegression => Matched.Any(m => m.Verdict is Verdict.Regression or Verdict.Failed);

    /// <summary>
    /// The median change over the entries that have both results (NaN when none): when everything moved
    /// together, the machine's speed probably changed between the runs. Shown, not part of the rule.
    /// </summary>
    public double Shift
    {
        get
        {
            double[] changes = Matched.Where(m => double.IsFinite(m.Change)).Select(m => m.Change).Order().ToArray();
            if (changes.Length == 0) return double.NaN;
            int h = changes.Length / 2;
            return changes.Length % 2 == 1 ? changes[h] : (changes[h - 1] + changes[h]) / 2;
        }
    }
}

/// <summary>A result file that cannot be read or understood (exit code 2).</summary>
internal sealed class CompareInputException(string message) : Exception(message);

/// <summary>
/// <c>autograd-fast compare BASELINE CURRENT [--threshold 10%]</c>: regression tracking between two
/// result files of the same kind, detected from their content:
/// <list type="bullet">
/// <item>BenchmarkDotNet full-JSON reports (bench/Autograd.Fast.Benchmarks, <c>*-report-full.json</c>):
/// matched by the benchmark's full name with its parameters, less the namespace (so a namespace rename
/// still matches); median = Statistics.Median; a side's noise = 2 x Statistics.StandardDeviation / median
/// (the spread of its iterations; the 99.9% confidence interval of a 3-iteration short run is about
/// ±18 standard deviations wide and would hide every change).</item>
/// <item>JSON lines of <c>autograd-fast peers</c> and bench/peers (<c>*.jsonl</c>): matched by
/// workload + impl + threads + variant; where a key has several runs, the median is the lowest median
/// over its runs (as bench/peers/table.py does) and the noise = (largest max_ns - smallest min_ns) / 2 /
/// median over all of them.</item>
/// </list>
/// change = current / baseline - 1; combined noise = sqrt(noise_baseline^2 + noise_current^2). A
/// regression is a change above both the threshold and the combined noise, and so is a benchmark that
/// has a result in the baseline but none now (it failed). Exit 0: no regression; 1: a regression;
/// 2: bad arguments or input (unreadable, malformed, different kinds, nothing in common).
/// </summary>
internal static class CompareCommand
{
    public const double DefaultThreshold = 0.10;

    public const string Usage = """
        autograd-fast compare BASELINE CURRENT [--threshold 10%]
          Compares two result files of the same kind: BenchmarkDotNet full-JSON reports (*-report-full.json,
          matched by benchmark name and parameters) or peers JSON lines (*.jsonl, matched by workload, impl,
          threads and variant). Prints each entry's baseline and current median, the change and the combined
          noise; a regression is a slowdown beyond both the threshold (default 10%) and the noise.
          Exit 0: no regression; 1: a regression (or a benchmark without a result now); 2: bad input.
        """;

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (args.Any(a => a is "--help" or "-h"))
        {
            output.WriteLine(Usage);
            return 0;
        }
        if (!TryParse(args, out string baselinePath, out string currentPath, out double threshold, out string? problem))
        {
            error.WriteLine(problem);
            error.WriteLine(Usage);
            return 2;
        }
        try
        {
            ResultSet baseline = Load(baselinePath);
            ResultSet current = Load(currentPath);
            ComparisonReport report = Compare(baseline, current, threshold);
            output.WriteLine($"baseline: {baselinePath} ({baseline.Format}, {baseline.Entries.Count} entries)");
            output.WriteLine($"current:  {currentPath} ({current.Format}, {current.Entries.Count} entries)");
            Print(report, baseline.Format, output);
            return report.HasRegression ? 1 : 0;
        }
        catch (CompareInputException e)
        {
            error.WriteLine("compare: " + e.Message);
            return 2;
        }
    }

    private static bool TryParse(IReadOnlyList<string> args, out string baseline, out string current, out double threshold, out string? problem)
    {
        baseline = current = "";
        threshold = DefaultThreshold;
        problem = null;
        var files = new List<string>();
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            string? value = null;
            if (a == "--threshold")
            {
                if (i + 1 >= args.Count) { problem = "compare: --threshold needs a value, e.g. 10%."; return false; }
                value = args[++i];
            }
            else if (a.StartsWith("--threshold=", StringComparison.Ordinal))
            {
                value = a["--threshold=".Length..];
            }
            else if (a.StartsWith('-') && a.Length > 1)
            {
                problem = $"compare: unknown option '{a}'.";
                return false;
            }
            else
            {
                files.Add(a);
                continue;
            }
            if (!TryParseThreshold(value, out threshold))
            {
                problem = $"compare: bad threshold '{value}'; expected a percentage such as 10% (more than 0, less than 1000).";
                return false;
            }
        }
        if (files.Count != 2)
        {
            problem = $"compare: expected two files, BASELINE and CURRENT; got {files.Count}.";
            return false;
        }
        (baseline, current) = (files[0], files[1]);
        return true;
    }

    /// <summary>"10%" or "10" (percent) to 0.10.</summary>
    internal static bool TryParseThreshold(string text, out double threshold)
    {
        string number = text.Trim().TrimEnd('%');
        bool ok = double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double percent)
                  && percent > 0 && percent < 1000;
        threshold = ok ? percent / 100 : DefaultThreshold;
        return ok;
    }

    // ---- reading -----------------------------------------------------------------------------------

    public static ResultSet Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CompareInputException($"cannot read '{path}': {e.Message}");
        }
        return Parse(text, path);
    }

    /// <summary>Reads a BenchmarkDotNet full-JSON report or JSON lines, whichever <paramref name="text"/> is.</summary>
    public static ResultSet Parse(string text, string name)
    {
        if (string.IsNullOrWhiteSpace(text)) throw new CompareInputException($"'{name}' is empty.");
        JsonDocument? whole = null;
        try
        {
            whole = JsonDocument.Parse(text);
        }
        catch (JsonException)
        {
            // more than one JSON value (JSON lines), or malformed: the line reader says which
        }
        if (whole is not null)
        {
            using (whole)
            {
                if (whole.RootElement.ValueKind == JsonValueKind.Object && whole.RootElement.TryGetProperty("Benchmarks", out JsonElement benchmarks))
                    return ParseBenchmarkDotNet(benchmarks, name);
            }
        }
        return ParseJsonLines(text, name);
    }

    private static ResultSet ParseBenchmarkDotNet(JsonElement benchmarks, string name)
    {
        if (benchmarks.ValueKind != JsonValueKind.Array)
            throw new CompareInputException($"'{name}': \"Benchmarks\" is not an array; expected a BenchmarkDotNet full-JSON report.");
        var entries = new List<BenchEntry>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int index = 0;
        foreach (JsonElement b in benchmarks.EnumerateArray())
        {
            index++;
            string fullName = StringOf(b, "FullName")
                ?? throw new CompareInputException($"'{name}': benchmark {index} has no \"FullName\"; expected a BenchmarkDotNet full-JSON report (JsonExporter.Full).");
            string? ns = StringOf(b, "Namespace");
            string key = !string.IsNullOrEmpty(ns) && fullName.StartsWith(ns + ".", StringComparison.Ordinal) ? fullName[(ns.Length + 1)..] : fullName;
            if (!seen.Add(key))
                throw new CompareInputException($"'{name}': '{key}' appears twice (several jobs in one report?); compare one job per file.");

            double median = double.NaN, noise = 0;
            int samples = 0;
            if (b.TryGetProperty("Statistics", out JsonElement stats) && stats.ValueKind == JsonValueKind.Object)
            {
                median = NumberOf(stats, "Median") ?? throw new CompareInputException($"'{name}': '{key}' has statistics without a \"Median\".");
                double sd = NumberOf(stats, "StandardDeviation") ?? 0;
                samples = (int)(NumberOf(stats, "N") ?? 0);
                noise = median > 0 && double.IsFinite(sd) ? 2 * sd / median : 0;
            }
            entries.Add(new BenchEntry(key, median, noise, samples));
        }
        if (entries.Count == 0) throw new CompareInputException($"'{name}': the report has no benchmarks.");
        return new ResultSet("BenchmarkDotNet JSON", entries);
    }

    private static ResultSet ParseJsonLines(string text, string name)
    {
        // Per key, in file order: the lowest median over its lines, the smallest min and the largest max.
        var keys = new List<string>();
        var groups = new Dictionary<string, (double Median, double Min, double Max, int Lines)>(StringComparer.Ordinal);
        string[] lines = text.Split('\n');
        for (int i = 0; i < lines.Length; i++)
        {
            string line = lines[i].Trim();
            if (line.Length == 0 || line.StartsWith('#')) continue;
            JsonDocument doc;
            try
            {
                doc = JsonDocument.Parse(line);
            }
            catch (JsonException e)
            {
                throw new CompareInputException($"'{name}' line {i + 1}: neither a BenchmarkDotNet full-JSON report nor JSON lines ({e.Message}).");
            }
            using (doc)
            {
                JsonElement r = doc.RootElement;
                if (r.ValueKind != JsonValueKind.Object)
                    throw new CompareInputException($"'{name}' line {i + 1}: a JSON line must be an object.");
                string? workload = StringOf(r, "workload");
                double? median = NumberOf(r, "median_ns");
                if (workload is null || median is null) continue;   // not a timing line (as bench/peers/table.py)
                string impl = StringOf(r, "impl") ?? "?";
                string threads = r.TryGetProperty("threads", out JsonElement t) ? t.ToString() : "1";
                string variant = StringOf(r, "variant") ?? "default";
                string key = $"{workload} {impl} threads={threads} {variant}";
                double min = NumberOf(r, "min_ns") ?? median.Value, max = NumberOf(r, "max_ns") ?? median.Value;
                if (groups.TryGetValue(key, out var g))
                    groups[key] = (Math.Min(g.Median, median.Value), Math.Min(g.Min, min), Math.Max(g.Max, max), g.Lines + 1);
                else
                {
                    keys.Add(key);
                    groups[key] = (median.Value, min, max, 1);
                }
            }
        }
        if (keys.Count == 0) throw new CompareInputException($"'{name}': no JSON line with \"workload\" and \"median_ns\".");
        var entries = keys.Select(k =>
        {
            var g = groups[k];
            double noise = g.Median > 0 ? Math.Max(0, g.Max - g.Min) / 2 / g.Median : 0;
            return new BenchEntry(k, g.Median, noise, g.Lines);
        }).ToList();
        return new ResultSet("JSON lines", entries);
    }

    private static string? StringOf(JsonElement o, string property) =>
        o.TryGetProperty(property, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;

    private static double? NumberOf(JsonElement o, string property) =>
        o.TryGetProperty(property, out JsonElement v) && v.ValueKind == JsonValueKind.Number && v.TryGetDouble(out double d) ? d : null;

    // ---- comparing ---------------------------------------------------------------------------------

    /// <summary>Matches the two sets by key and judges every common entry by <see cref="Judge"/>.</summary>
    public static ComparisonReport Compare(ResultSet baseline, ResultSet current, double threshold)
    {
        if (baseline.Format != current.Format)
            throw new CompareInputException($"the baseline is {baseline.Format} and the current file {current.Format}; compare files of one kind.");
        var currentByKey = current.Entries.ToDictionary(e => e.Key, StringComparer.Ordinal);
        var baselineKeys = baseline.Entries.Select(e => e.Key).ToHashSet(StringComparer.Ordinal);
        var matched = new List<EntryComparison>();
        var onlyInBaseline = new List<string>();
        foreach (BenchEntry b in baseline.Entries)
        {
            if (currentByKey.TryGetValue(b.Key, out BenchEntry? c)) matched.Add(Judge(b, c, threshold));
            else onlyInBaseline.Add(b.Key);
        }
        var onlyInCurrent = current.Entries.Where(e => !baselineKeys.Contains(e.Key)).Select(e => e.Key).ToList();
        if (matched.Count == 0)
            throw new CompareInputException("the two files have no benchmark in common.");
        return new ComparisonReport(matched, onlyInBaseline, onlyInCurrent, threshold);
    }

    /// <summary>
    /// change = current / baseline - 1 and noise = sqrt(nb^2 + nc^2); a regression when change &gt; threshold
    /// and change &gt; noise, faster when -change exceeds both, within noise when only the threshold is exceeded.
    /// </summary>
    public static EntryComparison Judge(BenchEntry baseline, BenchEntry current, double threshold)
    {
        if (!baseline.HasResult) return new EntryComparison(baseline, current, double.NaN, double.NaN, Verdict.NoBaseline);
        if (!current.HasResult) return new EntryComparison(baseline, current, double.NaN, double.NaN, Verdict.Failed);
        double change = current.MedianNs / baseline.MedianNs - 1;
        double noise = Math.Sqrt(baseline.Noise * baseline.Noise + current.Noise * current.Noise);
        Verdict verdict = Math.Abs(change) <= threshold ? Verdict.Same
            : Math.Abs(change) <= noise ? Verdict.WithinNoise
            : change > 0 ? Verdict.Regression : Verdict.Faster;
        return new EntryComparison(baseline, current, change, noise, verdict);
    }

    // ---- printing ----------------------------------------------------------------------------------

    public static void Print(ComparisonReport report, string format, TextWriter output)
    {
        string noiseRule = format == "JSON lines"
            ? "a side's noise = (max_ns - min_ns) / 2 / median over its lines"
            : "a side's noise = 2 x standard deviation / median of its iterations";
        output.WriteLine($"rule: REGRESSION when current/baseline - 1 > {Percent(report.Threshold)} (threshold) and > the combined noise " +
                         $"sqrt(nb^2 + nc^2), where {noiseRule}; FASTER likewise the other way; a benchmark without a result now is FAILED.");
        output.WriteLine();

        int keyWidth = Math.Max(9, report.Matched.Max(m => m.Key.Length));
        output.WriteLine($"{"benchmark".PadRight(keyWidth)}  {"baseline",12}  {"current",12}  {"change",8}  {"noise",8}  verdict");
        foreach (EntryComparison m in report.Matched)
        {
            output.WriteLine($"{m.Key.PadRight(keyWidth)}  {Time(m.Baseline.MedianNs),12}  {Time(m.Current.MedianNs),12}  " +
                             $"{SignedPercent(m.Change),8}  {(double.IsNaN(m.Noise) ? "-" : "±" + Percent(m.Noise)),8}  {Label(m.Verdict)}");
        }
        foreach (string key in report.OnlyInBaseline) output.WriteLine($"only in baseline (not compared): {key}");
        foreach (string key in report.OnlyInCurrent) output.WriteLine($"only in current (not compared):  {key}");

        output.WriteLine();
        int Count(Verdict v) => report.Matched.Count(m => m.Verdict == v);
        output.WriteLine($"{report.Matched.Count} compared: {Count(Verdict.Regression)} regression(s), {Count(Verdict.Failed)} failed, " +
                         $"{Count(Verdict.Faster)} faster, {Count(Verdict.WithinNoise)} beyond the threshold but within noise, " +
                         $"{Count(Verdict.Same)} within the threshold, {Count(Verdict.NoBaseline)} without a baseline result; " +
                         $"{report.OnlyInBaseline.Count} only in baseline, {report.OnlyInCurrent.Count} only in current.");
        double shift = report.Shift;
        if (double.IsFinite(shift))
        {
            output.WriteLine($"overall shift (median change of the compared entries): {SignedPercent(shift)}" +
                             (Math.Abs(shift) > report.Threshold / 2
                                 ? "; most entries moved together, so the machine's speed may have changed between the runs (other load): rerun before trusting a verdict."
                                 : "."));
        }
        output.WriteLine(report.HasRegression ? "RESULT: REGRESSION (exit 1)" : "RESULT: no regression (exit 0)");
    }

    private static string Label(Verdict v) => v switch
    {
        Verdict.Same => "same",
        Verdict.WithinNoise => "within noise",
        Verdict.Faster => "FASTER",
        Verdict.Regression => "REGRESSION",
        Verdict.Failed => "FAILED (no result now)",
        _ => "no baseline result",
    };

    private static string Percent(double fraction) => (fraction * 100).ToString("0.0", CultureInfo.InvariantCulture) + "%";

    private static string SignedPercent(double fraction) =>
        double.IsNaN(fraction) ? "-" : (fraction >= 0 ? "+" : "") + Percent(fraction);

    /// <summary>A time in ns with a readable unit (ASCII "us" for microseconds).</summary>
    internal static string Time(double ns)
    {
        if (!double.IsFinite(ns) || ns <= 0) return "-";
        (double value, string unit) = ns switch
        {
            < 1e3 => (ns, "ns"),
            < 1e6 => (ns / 1e3, "us"),
            < 1e9 => (ns / 1e6, "ms"),
            _ => (ns / 1e9, "s"),
        };
        return value.ToString(value < 10 ? "0.000" : value < 100 ? "0.00" : "0.0", CultureInfo.InvariantCulture) + " " + unit;
    }
}
