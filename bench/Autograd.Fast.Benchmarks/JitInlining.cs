using System.Diagnostics;
using System.Diagnostics.Tracing;

namespace AutogradFast.Benchmarks;

/// <summary>
/// <c>dotnet run -c Release --project bench/Autograd.Fast.Benchmarks -- inlining W8 [seconds]</c>: runs a
/// workload's steps under the JIT for a few seconds while listening to the runtime's own inlining
/// events, then prints why inlines failed, and every inline that failed for the JIT's time budget, by
/// the method being compiled. A method's budget is a multiple of its own IL size; a force inline
/// (AggressiveInlining) raises it only when every method between it and the root is a force inline
/// too, so a discretionary inline (a small public operator the JIT inlined into user code) makes the
/// aggressive ones below it spend the caller's budget, and the accessors inlined after that stay calls.
/// NativeAOT compiles with the same inliner but without a profile: this shows the JIT's side.
/// </summary>
internal static class JitInlining
{
    public static int Run(string[] args)
    {
        string id = args.Length > 1 ? args[1] : "W8";
        double seconds = 5;
        if (args.Length > 2 && !(double.TryParse(args[2], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out seconds) && seconds > 0))
            return Usage($"seconds must be a positive number, not '{args[2]}'");
        using var listener = new InliningListener();
        var state = new WorkloadState();
        try
        {
            state.Open(id, 1);
        }
        catch (ArgumentException e)
        {
            return Usage(e.Message);
        }
        var clock = Stopwatch.StartNew();
        long steps = 0;
        while (clock.Elapsed.TotalSeconds < seconds) { state.Step(); steps++; }
        state.Close();
        Thread.Sleep(500); // the last tier-1 compiles report from the JIT's background thread

        List<InlineFailure> failures = listener.Snapshot();
        Console.WriteLine($"{id}: {steps} steps in {seconds} s; {failures.Count} failed inlines in the library and the tool");
        foreach (var reason in failures.GroupBy(f => f.Reason).OrderByDescending(g => g.Count()))
            Console.WriteLine($"  {reason.Count(),6}  {reason.Key}");
        Console.WriteLine("over budget, by method being compiled:");
        foreach (var root in failures.Where(f => f.Reason == "inline exceeds budget").GroupBy(f => f.Root).OrderBy(g => g.Key, StringComparer.Ordinal))
            Console.WriteLine($"  {root.Key}\n      {string.Join(", ", root.Select(f => f.Inlinee).Distinct().Order(StringComparer.Ordinal))}");
        return 0;
    }

    private static int Usage(string problem)
    {
        Console.Error.WriteLine($"inlining: {problem}\nusage: inlining [W1..W8] [seconds]");
        return 2;
    }

    private readonly record struct InlineFailure(string Root, string Inlinee, string Reason);

    /// <summary>The runtime's MethodJitInliningFailed events (JitTracing keyword), for methods of this repository's assemblies.</summary>
    private sealed class InliningListener : EventListener
    {
        private const EventKeywords JitTracing = (EventKeywords)0x1000;
        private readonly List<InlineFailure> _failures = [];

        protected override void OnEventSourceCreated(EventSource source)
        {
            if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, JitTracing);
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventName is not { } name || !name.StartsWith("MethodJitInliningFailed", StringComparison.Ordinal) || e.Payload is null || e.PayloadNames is null) return;
            string Field(string field) => e.Payload[e.PayloadNames.IndexOf(field)] as string ?? "";
            string rootNamespace = Field("MethodBeingCompiledNamespace");
            if (!rootNamespace.StartsWith("AutogradFast", StringComparison.Ordinal)) return;
            var failure = new InlineFailure(
                $"{Shorten(rootNamespace)}::{Field("MethodBeingCompiledName")}",
                $"{Shorten(Field("InlineeNamespace"))}::{Field("InlineeName")}",
                Field("FailReason"));
            lock (_failures) _failures.Add(failure);
        }

        public List<InlineFailure> Snapshot()
        {
            lock (_failures) return [.. _failures];
        }

        private static string Shorten(string typeName) => typeName.Replace("AutogradFast.", "", StringComparison.Ordinal);
    }
}
