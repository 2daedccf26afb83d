using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters.Json;
using BenchmarkDotNet.Running;

namespace AutogradFast.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project bench/Autograd.Fast.Benchmarks -- [BenchmarkDotNet options]</c>,
/// e.g. <c>--filter "*Workload*" --job short</c>; or <c>-- inlining W8</c>, the JIT's failed inlines in a
/// workload (<see cref="JitInlining"/>). See bench/README.md.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        if (args is ["inlining", ..]) return JitInlining.Run(args);
        // In process: the benchmarks run in this process (BenchmarkDotNet's InProcessEmit toolchain)
        // instead of a generated project that BenchmarkDotNet would build next to the sources with the
        // default output paths. Added as the command-line switch so that --job short etc. still apply.
        if (!args.Any(a => a is "--inProcess" or "-i"))
            args = [.. args, "--inProcess"];
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args, Config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }

    /// <summary>
    /// The default config plus managed allocations (MemoryDiagnoser; the library allocates natively,
    /// so 0 B is what a step should show), the median column, and BenchmarkDotNet's full JSON report
    /// (every iteration and the statistics: what <c>autograd-fast compare</c> reads), joined into one
    /// summary per run (<c>results/BenchmarkRun-joined-TIMESTAMP-report-full.json</c>).
    /// </summary>
    public static IConfig Config { get; } = DefaultConfig.Instance
        .AddDiagnoser(MemoryDiagnoser.Default)
        .AddExporter(JsonExporter.Full)
        .AddColumn(StatisticColumn.Median, StatisticColumn.Min, StatisticColumn.Max)
        .WithOptions(ConfigOptions.JoinSummary);
}
