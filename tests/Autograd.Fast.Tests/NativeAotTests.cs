using System.Diagnostics;

namespace AutogradFast.Tests;

/// <summary>The tool publishes with NativeAOT (no trim or AOT warnings) and the native binary runs the walkthrough.</summary>
public class NativeAotTests
{
    [Fact]
    public void ToolPublishesWithNativeAotAndRunsTheSeedWalkthrough()
    {
        string output = Path.Combine(Path.GetTempPath(), "autograd-fast-aot-" + Environment.ProcessId);
        var (publishCode, publishLog) = Run("dotnet",
            $"publish \"{Path.Combine(RepositoryPaths.Root, "src", "Autograd.Fast.Tool")}\" -c Release -r linux-x64 --artifacts-path \"{output}\"",
            TimeSpan.FromMinutes(10));
        Assert.True(publishCode == 0, publishLog);
        Assert.DoesNotMatch(@"warning (IL\d{4}|CS\d{4})", publishLog);

        string binary = Directory.EnumerateFiles(output, "autograd-fast", SearchOption.AllDirectories)
            .Single(f => f.Contains("publish", StringComparison.Ordinal));
        var (code, text) = Run(binary, "seeds", TimeSpan.FromMinutes(2));
        Assert.True(code == 0, text);
        Assert.Contains("tensor(28., grad_fn=<MulBackward0>)", text, StringComparison.Ordinal);
        Assert.Contains("tensor([ 0.,  4.,  8., 12.])", text, StringComparison.Ordinal);
        // The autograd API beyond Backward (hooks, custom functions, in-place recording, modes, functional
        // transforms, forward mode, GradCheck, anomaly mode's call site) works without reflection.
        var (apiCode, apiText) = Run(binary, "api", TimeSpan.FromMinutes(2));
        Assert.True(apiCode == 0, apiText);
        Assert.Contains("api tour: all checks passed", apiText, StringComparison.Ordinal);
        Assert.Equal(12, apiText.Split('\n').Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
        // The version attribute survives trimming; usage errors exit 2 in the native binary too.
        var (versionCode, version) = Run(binary, "--version", TimeSpan.FromMinutes(1));
        Assert.Equal(0, versionCode);
        Assert.Matches(@"^autograd-fast \d+\.\d+\.\d+\s*$", version);
        Assert.Equal(2, Run(binary, "seeds 9", TimeSpan.FromMinutes(1)).Code);
        AssertHotMethodsLaidOutTogether(binary + ".dbg");
        Directory.Delete(output, recursive: true);
    }

    /// <summary>
    /// hot-methods.txt (bench/instructions/order.sh) is current and applied: nearly every method it names
    /// exists (the compiler ignores the others silently, so a stale list would quietly stop working), and
    /// they sit at the front of the code in the file's order.
    /// </summary>
    private static void AssertHotMethodsLaidOutTogether(string symbols)
    {
        string[] listed = File.ReadAllLines(Path.Combine(RepositoryPaths.Root, "src", "Autograd.Fast.Tool", "hot-methods.txt"))
            .Where(l => l.Length > 0).ToArray();
        var (code, table) = Run("nm", $"\"{symbols}\"", TimeSpan.FromMinutes(1));
        Assert.True(code == 0, table);
        var address = new Dictionary<string, ulong>();
        foreach (string line in table.Split('\n'))
        {
            string[] f = line.Split(' ');
            if (f.Length == 3 && f[1] is "t" or "T") address.TryAdd(f[2], Convert.ToUInt64(f[0], 16));
        }
        string[] present = listed.Where(address.ContainsKey).ToArray();
        // The workloads' own methods are listed under the tool's and the instruction driver's names.
        int expected = listed.Count(n => !n.StartsWith("InstructionDriver_", StringComparison.Ordinal));
        Assert.True(present.Length >= expected * 9 / 10,
            $"only {present.Length} of hot-methods.txt's {expected} methods exist: rerun bench/instructions/order.sh; missing: " +
            string.Join(", ", listed.Where(n => !address.ContainsKey(n) && !n.StartsWith("InstructionDriver_", StringComparison.Ordinal)).Take(10)));
        for (int i = 1; i < present.Length; i++)
            Assert.True(address[present[i]] > address[present[i - 1]], $"{present[i]} is not laid out after {present[i - 1]}");
    }

    private static (int Code, string Output) Run(string file, string arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(file, arguments) { RedirectStandardOutput = true, RedirectStandardError = true };
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"timed out after {timeout}");
        }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }
}
