using System.Reflection;
using AutogradFast.Tool.Compare;
using AutogradFast.Tool.Seeds;
using AutogradFast.Tool.Workloads;

namespace AutogradFast.Tool;

internal static class Program
{
    public const string Usage = """
        autograd-fast: Autograd.Fast's command-line tool.

        Usage: autograd-fast COMMAND [ARGS]

        Commands:
          seeds [NAME...]  Run the PyTorch autograd tutorials (five notebooks, built into the tool) translated
                           to C#, cell by cell: each cell's C# code, then its output. NAME picks notebooks:
                           000 ... 004, or 0 ... 4. Without a name all five run. `seeds --help`.
          peers [OPTS]     Run the peer workloads W1-W8 (shared/workloads.md) as JSON lines; `peers --help`.
          api              A tour of the autograd API (hooks, custom functions, in-place recording, grad modes,
                           functional transforms, forward mode, GradCheck, anomaly mode), each line checked.
          compare BASELINE CURRENT [--threshold 10%]
                           Compare two benchmark result files (BenchmarkDotNet JSON or peers JSON lines);
                           exit 1 on a regression beyond the threshold and the noise; `compare --help`.
          help, --help     Show this text.
          --version        Show the tool's version.

        Exit codes: 0 success, 1 a failed check or regression, 2 a usage error.
        """;

    public static int Main(string[] args) => Run(args, Console.Out, Console.Error);

    public static int Run(IReadOnlyList<string> args, TextWriter output, TextWriter error)
    {
        if (args.Count == 0)
        {
            error.WriteLine("autograd-fast: no command given.");
            error.WriteLine(Usage);
            return 2;
        }
        string[] rest = args.Skip(1).ToArray();
        switch (args[0])
        {
            case "seeds":
                return SeedWalkthrough.RunCommand(rest, output, error);
            case "peers":
                return PeersCommand.Run(rest, output, error);
            case "api":
                return Api.ApiTour.RunCommand(rest, output, error);
            case "compare":
                return CompareCommand.Run(rest, output, error);
            case "help" or "--help" or "-h":
                if (rest.Length > 0) return Unexpected(rest, error);
                output.WriteLine(Usage);
                return 0;
            case "--version":
                if (rest.Length > 0) return Unexpected(rest, error);
                output.WriteLine($"autograd-fast {Version}");
                return 0;
            default:
                error.WriteLine($"autograd-fast: unknown command '{args[0]}'.");
                error.WriteLine(Usage);
                return 2;
        }
    }

    /// <summary>The version set once in Directory.Build.props (without the source revision suffix).</summary>
    public static string Version
    {
        get
        {
            string? informational = typeof(Program).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion;
            string version = informational ?? typeof(Program).Assembly.GetName().Version?.ToString() ?? "unknown";
            int plus = version.IndexOf('+', StringComparison.Ordinal);
            return plus < 0 ? version : version[..plus];
        }
    }

    private static int Unexpected(string[] extra, TextWriter error)
    {
        error.WriteLine($"autograd-fast: unexpected argument{(extra.Length > 1 ? "s" : "")} {string.Join(" ", extra.Select(a => $"'{a}'"))}.");
        error.WriteLine(Usage);
        return 2;
    }
}
