// instruction-driver WORKLOAD STEPS: sets the workload up, runs two warm-up steps, then STEPS steps.
// run.sh runs it under callgrind with two step counts; the difference divided by the difference in
// steps is the instructions of one step, without start-up, set-up or warm-up.
using AutogradFast.Tool.Workloads;

if (args.Length != 2 || !int.TryParse(args[1], out int steps) || steps < 0)
{
    Console.Error.WriteLine("usage: instruction-driver W1|W2|W3|W4|W8 STEPS");
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
for (int i = 0; i < steps; i++) workload.Step();
return 0;
