using AutogradFast.Tool.Compare;
using AutogradFast.Tool.Seeds;
using AutogradFast.Tool.Workloads;

namespace AutogradFast.Tool;

internal static class Program
{
    private const string Usage = """
        autograd-fast: Autograd.Fast's command-line tool.

        Commands:
          seeds [NAME]   Run the PyTorch autograd tutorials in ../shared/seeds translated to C#, cell by cell:
                         each cell's C# code, then its output. NAME picks one notebook (000 ... 004).
          peers [OPTS]   Run the peer workloads W1-W8 (shared/workloads.md) as JSON lines; `peers --help`.
          compare BASELINE CURRENT [--threshold 10%]
                         Compare two benchmark result files (BenchmarkDotNet JSON or peers JSON lines);
                         exit 1 on a regression beyond the threshold and the noise; `compare --help`.
          help           Show this text.
        """;

    public static int Main(string[] args)
    {
        string command = args.Length > 0 ? args[0] : "seeds";
        switch (command)
        {
            case "seeds":
                return SeedWalkthrough.Run(Console.Out, args.Length > 1 ? args[1] : null);
            case "peers":
                return PeersCommand.Run(args[1..], Console.Out, Console.Error);
            case "compare":
                return CompareCommand.Run(args[1..], Console.Out, Console.Error);
            case "help" or "--help" or "-h":
                Console.WriteLine(Usage);
                return 0;
            default:
                Console.Error.WriteLine($"Unknown command '{command}'.");
                Console.Error.WriteLine(Usage);
                return 2;
        }
    }
}
