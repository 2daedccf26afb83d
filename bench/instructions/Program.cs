// instruction-driver WORKLOAD STEPS [BATCHES]: sets the workload up, runs two warm-up steps, then STEPS steps.
// run.sh runs it under callgrind with two step counts; the difference divided by the difference in
// steps is the instructions of one step, without start-up, set-up or warm-up.
// With BATCHES it runs that many batches of STEPS steps and prints the fastest batch's nanoseconds per
// step: on these shared VMs the best of many short batches compares two revisions to a few percent,
// where whole-process times move by tens of percent (use it side by side, interleaved).
using AutogradFast.Tool.Workloads;

int batches = 0;
if (args.Length is not (2 or 3) || !int.TryParse(args[1], out int steps) || steps < 0
    || (args.Length == 3 && (!int.TryParse(args[2], out batches) || batches < 1)))
{
    Console.Error.WriteLine("usage: instruction-driver W1|W2|W3|W4|W8 STEPS [BATCHES]");
    return 2;
}
IWorkload workload = args[0].ToUpperInvariant() switch
{
    "W1" => new W1SeedPoly(),
    "W2" => new W2SeedDot(),
    "W3" => new W3Chain1k(),
    "W4" => new W4MlpTiny(),
    "W8" => new W8SeedLoop(),
    _ => throw new ArgumentException($"unknown workload '{args[0]}' (W1, W2, W3, W4, W8)"),
};
workload.Setup();
workload.Step();
workload.Step();
if (batches == 0)
{
    for (int i = 0; i < steps; i++) workload.Step();
    return 0;
}
double best = double.MaxValue;
for (int b = 0; b < batches; b++)
{
    long start = System.Diagnostics.Stopwatch.GetTimestamp();
    for (int i = 0; i < steps; i++) workload.Step();
    best = Math.Min(best, System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalNanoseconds / steps);
}
Console.WriteLine(best.ToString("F1", System.Globalization.CultureInfo.InvariantCulture));
return 0;
