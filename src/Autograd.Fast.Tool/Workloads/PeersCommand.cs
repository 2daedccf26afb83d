using System.Buffers;
using System.Globalization;
using System.Numerics;
using System.Runtime.Intrinsics;
using System.Runtime;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;

namespace AutogradFast.Tool.Workloads;

/// <summary>
/// <c>autograd-fast peers</c>: runs W1-W8 of shared/workloads.md with workloads.md's timing method and
/// prints one JSON line per (workload, threads), impl "csharp", for bench/peers/table.py to put next
/// to PyTorch and LibTorch. <c>--smoke</c> runs one check step per workload instead and compares the
/// check values with workloads.md's (exit 1 on a mismatch).
/// </summary>
internal static class PeersCommand
{
    public const string Impl = "csharp";

    public const string Usage = """
        autograd-fast peers [--smoke] [--threads N] [--run R] [--variant V] [--only W1,W5]
          Runs the peer workloads W1-W8 (shared/workloads.md): W1-W4 and W8 at 1 thread, W5-W7 at 1 and 2
          (--threads N: only thread count N). One JSON line per workload on stdout.
          --smoke     one check step per workload from fresh state; PASS/FAIL per workload; exit 1 on a failure
          --run R     run id recorded in the JSON lines (default 1)
          --variant V variant recorded in the JSON lines (default "default")
          --only IDS  comma-separated workload ids
        """;

    private sealed class Options
    {
        public bool Smoke;
        public int? Threads;
        public string Run = "1";
        public string Variant = "default";
        public HashSet<string> Only = new(StringComparer.OrdinalIgnoreCase);
    }

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (args.Any(a => a is "--help" or "-h"))
        {
            output.WriteLine(Usage);
            return 0;
        }
        if (!TryParse(args, out Options options, out string? problem))
        {
            error.WriteLine(problem);
            error.WriteLine(Usage);
            return 2;
        }

        List<string> generatorErrors = PeerData.Verify();
        if (generatorErrors.Count > 0)
        {
            error.WriteLine("GENERATOR CHECK FAILED:");
            foreach (string e in generatorErrors) error.WriteLine("  " + e);
            return 3;
        }

        int[] threadCounts = options.Threads is int n ? [n] : [1, 2];
        int failed = 0;
        foreach (int threads in threadCounts)
        {
            LibraryThreads.Set(threads);
            string env = options.Smoke ? "" : EnvironmentJson(); // after Set: it records the thread budget
            foreach (IWorkload workload in WorkloadCatalog.Create())
            {
                if (options.Only.Count > 0 && !options.Only.Contains(workload.Id)) continue;
                if (threads != 1 && !workload.Threaded) continue;
                if (options.Smoke)
                {
                    IReadOnlyDictionary<string, double> check = WorkloadTimer.CheckFromFreshState(workload);
                    List<string> failures = WorkloadCatalog.Failures(workload.Id, check);
                    output.WriteLine($"{(failures.Count == 0 ? "PASS" : "FAIL")} {workload.Id} {workload.Name} {Impl} threads={threads} {CheckJson(check)}");
                    foreach (string f in failures) output.WriteLine("    " + f);
                    if (failures.Count > 0) failed++;
                }
                else
                {
                    Measurement m = WorkloadTimer.Measure(workload);
                    output.WriteLine(JsonLine(workload, threads, options.Run, options.Variant, m, env));
                    output.Flush();
                }
            }
        }
        return failed == 0 ? 0 : 1;
    }

    private static bool TryParse(IReadOnlyList<string> args, out Options options, out string? problem)
    {
        options = new Options();
        problem = null;
        for (int i = 0; i < args.Count; i++)
        {
            string a = args[i];
            string? value = i + 1 < args.Count ? args[i + 1] : null;
            switch (a)
            {
                case "--smoke":
                    options.Smoke = true;
                    continue;
                case "--threads" when value is not null && int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int t) && t >= 1:
                    options.Threads = t;
                    break;
                case "--run" when value is not null:
                    options.Run = value;
                    break;
                case "--variant" when value is not null:
                    options.Variant = value;
                    break;
                case "--only" when value is not null:
                    foreach (string id in value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)) options.Only.Add(id);
                    break;
                default:
                    problem = $"peers: unexpected or incomplete argument '{a}'.";
                    return false;
            }
            i++;
        }
        return true;
    }

    // ---- JSON lines, written with Utf8JsonWriter (no reflection) -----------------------------------

    private static string JsonLine(IWorkload w, int threads, string run, string variant, Measurement m, string envJson)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var j = new Utf8JsonWriter(buffer))
        {
            j.WriteStartObject();
            j.WriteString("workload", w.Id);
            j.WriteString("name", w.Name);
            j.WriteString("impl", Impl);
            j.WriteNumber("threads", threads);
            j.WriteString("run", run);
            j.WriteString("variant", variant);
            j.WriteNumber("median_ns", Math.Round(m.MedianNs, 1));
            j.WriteNumber("min_ns", Math.Round(m.MinNs, 1));
            j.WriteNumber("max_ns", Math.Round(m.MaxNs, 1));
            j.WriteNumber("iters", m.Iters);
            j.WriteNumber("reps", m.Reps);
            if (w.Nodes is int nodes) j.WriteNumber("ns_per_node", Math.Round(m.MedianNs / nodes, 2));
            if (w.BytesMin is long bytes)
            {
                j.WriteNumber("bytes_min", bytes);
                j.WriteNumber("gbps", Math.Round(bytes / m.MedianNs, 3));
                j.WriteNumber("gbps_best", Math.Round(bytes / m.MinNs, 3));
            }
            if (w.Flops is long flops)
            {
                j.WriteNumber("flops", flops);
                j.WriteNumber("gflops", Math.Round(flops / m.MedianNs, 3));
                j.WriteNumber("gflops_best", Math.Round(flops / m.MinNs, 3));
            }
            j.WriteNumber("alloc_bytes_per_step", Math.Round(m.AllocatedBytesPerStep, 1));
            j.WriteNumber("gc_count", m.GcCount);
            j.WritePropertyName("check");
            WriteCheck(j, m.Check);
            j.WritePropertyName("env");
            j.WriteRawValue(envJson, skipInputValidation: true);
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static string CheckJson(IReadOnlyDictionary<string, double> check)
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var j = new Utf8JsonWriter(buffer)) WriteCheck(j, check);
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }

    private static void WriteCheck(Utf8JsonWriter j, IReadOnlyDictionary<string, double> check)
    {
        j.WriteStartObject();
        foreach (var (key, value) in check) j.WriteNumber(key, value);
        j.WriteEndObject();
    }

    private static string EnvironmentJson()
    {
        var buffer = new ArrayBufferWriter<byte>();
        using (var j = new Utf8JsonWriter(buffer))
        {
            j.WriteStartObject();
            j.WriteString("runtime", RuntimeInformation.FrameworkDescription);
            // NativeAOT compiles nothing at run time; under the JIT this process has compiled hundreds of methods by now.
            j.WriteBoolean("native_aot", JitInfo.GetCompiledMethodCount() == 0);
            j.WriteBoolean("vector512", Vector512.IsHardwareAccelerated);
            j.WriteNumber("vector_bytes", Vector<byte>.Count);
            j.WriteNumber("processors", Environment.ProcessorCount);
            j.WriteString("library_threads", LibraryThreads.Status);
            j.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}
