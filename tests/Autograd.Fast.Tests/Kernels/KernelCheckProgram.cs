using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;

namespace AutogradFast.Tests.Kernels;

/// <summary>
/// The test assembly's entry point (the csproj sets <c>GenerateProgramFile</c> to false so this is the
/// only one). VSTest never calls it; <c>dotnet AutogradFast.Tests.dll kernel-check [group-prefix...]</c>
/// runs <see cref="KernelChecks"/> in a fresh process, which is how
/// <see cref="KernelChildProcessTests"/> runs them with instruction sets disabled through
/// <c>DOTNET_Enable*</c> settings (those are read once, at runtime start).
/// </summary>
public static class KernelCheckProgram
{
    public const string Command = "kernel-check";

    /// <summary>The line prefix of the accelerated-widths report, parsed by the parent test.</summary>
    public const string WidthsPrefix = "accelerated: ";

    public static int Main(string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);
        if (args.Length == 0 || args[0] != Command) return 0;
        string[] prefixes = args[1..];
        Console.WriteLine(WidthsPrefix + KernelChecks.AcceleratedWidths());
        Console.WriteLine($"runtime: {RuntimeInformation.FrameworkDescription} {RuntimeInformation.ProcessArchitecture}");
        var total = Stopwatch.StartNew();
        int groups = 0, failedGroups = 0;
        foreach (KernelCheck check in KernelChecks.All)
        {
            if (prefixes.Length > 0 && !prefixes.Any(p => check.Name.StartsWith(p, StringComparison.Ordinal))) continue;
            groups++;
            var watch = Stopwatch.StartNew();
            IReadOnlyList<string> failures;
            try
            {
                failures = check.Run();
            }
#pragma warning disable CA1031 // a crash in one group is reported as that group's failure
            catch (Exception e)
#pragma warning restore CA1031
            {
                failures = [$"threw {e}"];
            }
            if (failures.Count == 0)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"PASS {check.Name} ({watch.ElapsedMilliseconds} ms)"));
                continue;
            }
            failedGroups++;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"FAIL {check.Name} ({watch.ElapsedMilliseconds} ms)"));
            foreach (string f in failures) Console.WriteLine("  " + f);
        }
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"kernel-check: {groups} groups, {failedGroups} failed, {total.ElapsedMilliseconds} ms wall, {Process.GetCurrentProcess().TotalProcessorTime.TotalMilliseconds:F0} ms CPU"));
        return failedGroups == 0 && groups > 0 ? 0 : 1;
    }
}
