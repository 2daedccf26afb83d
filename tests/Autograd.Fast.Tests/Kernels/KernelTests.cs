using System.Diagnostics;
using System.Globalization;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;
using System.Text.RegularExpressions;
using Xunit.Abstractions;

namespace AutogradFast.Tests.Kernels;

/// <summary>Runs every <see cref="KernelChecks"/> group in the test process (at this machine's widest vector width).</summary>
public sealed class KernelTests(ITestOutputHelper output)
{
    public static TheoryData<string> Groups()
    {
        var data = new TheoryData<string>();
        foreach (KernelCheck check in KernelChecks.All) data.Add(check.Name);
        return data;
    }

    [Theory]
    [MemberData(nameof(Groups))]
    public void KernelCheck_Passes(string group)
    {
        var watch = Stopwatch.StartNew();
        IReadOnlyList<string> failures = KernelChecks.Get(group).Run();
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{group}: {failures.Count} failure lines, {watch.ElapsedMilliseconds} ms ({KernelChecks.AcceleratedWidths()})"));
        foreach (string f in failures) output.WriteLine(f);
        Assert.True(failures.Count == 0, $"{group} failed:\n" + string.Join("\n", failures));
    }

    [Fact]
    public void AcceleratedWidths_AreReported()
    {
        output.WriteLine(KernelChecks.AcceleratedWidths());
        output.WriteLine($"Avx512F={Avx512F.IsSupported} Avx2={Avx2.IsSupported} Sse42={Sse42.IsSupported} AdvSimd={System.Runtime.Intrinsics.Arm.AdvSimd.IsSupported}");
        // The drivers assume the widths nest: a wider accelerated vector implies the narrower ones.
        if (Vector512.IsHardwareAccelerated) Assert.True(Vector256.IsHardwareAccelerated);
        if (Vector256.IsHardwareAccelerated) Assert.True(Vector128.IsHardwareAccelerated);
    }
}

/// <summary>
/// Runs all kernel checks again in child processes with instruction sets disabled, so the 256-bit,
/// 128-bit and scalar paths are exercised on a machine whose widest width would otherwise always win.
/// Each run must also report the expected accelerated widths, proving the setting took effect.
/// </summary>
public sealed partial class KernelChildProcessTests(ITestOutputHelper output)
{
    // .NET 10 reads DOTNET_EnableAVX512 (AVX-512 as one group); DOTNET_EnableAVX512F=0 alone is
    // silently ignored there (verified on 10.0.12: Vector512 stays accelerated). Set both, for .NET 8/9 too.
    [Theory]
    [InlineData("DOTNET_EnableAVX512F=0;DOTNET_EnableAVX512=0")]
    [InlineData("DOTNET_EnableAVX2=0")]
    [InlineData("DOTNET_EnableHWIntrinsic=0")]
    public async Task KernelChecks_PassInChildProcess(string settings)
    {
        string dll = typeof(KernelChecks).Assembly.Location;
        Assert.True(File.Exists(dll), $"test assembly not found at '{dll}'");
        string runtimeConfig = Path.ChangeExtension(dll, ".runtimeconfig.json");
        Assert.True(File.Exists(runtimeConfig), $"'{runtimeConfig}' is missing: 'dotnet {Path.GetFileName(dll)}' cannot start without it");

        // Expected widths relative to this process: a disabled width is off, narrower ones stay as they are here.
        bool v512 = false, v256 = Vector256.IsHardwareAccelerated, v128 = Vector128.IsHardwareAccelerated;
        if (settings.Contains("EnableAVX2=0", StringComparison.Ordinal)) v256 = false;
        if (settings.Contains("EnableHWIntrinsic=0", StringComparison.Ordinal)) v256 = v128 = false;

        string? processPath = Environment.ProcessPath;
        string dotnet = processPath is not null && Path.GetFileNameWithoutExtension(processPath) == "dotnet" ? processPath : "dotnet";
        var start = new ProcessStartInfo(dotnet)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(dll);
        start.ArgumentList.Add(KernelCheckProgram.Command);
        foreach (string setting in settings.Split(';'))
        {
            string[] pair = setting.Split('=', 2);
            start.Environment[pair[0]] = pair[1];
        }

        var watch = Stopwatch.StartNew();
        using Process child = Process.Start(start) ?? throw new InvalidOperationException($"could not start {dotnet}");
        Task<string> stdout = child.StandardOutput.ReadToEndAsync();
        Task<string> stderr = child.StandardError.ReadToEndAsync();
        using (var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5)))
        {
            try
            {
                await child.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                child.Kill(entireProcessTree: true); // our own child, by its handle
                Assert.Fail($"kernel-check child ({settings}) did not finish in 5 minutes");
            }
        }
        watch.Stop();
        string text = await stdout, errors = await stderr;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{settings}: exit code {child.ExitCode} after {watch.Elapsed.TotalSeconds:F1} s (process start included)"));
        output.WriteLine(text);
        if (errors.Length > 0) output.WriteLine("stderr:\n" + errors);

        Match widths = WidthsLine().Match(text);
        Assert.True(widths.Success, $"the child did not report its accelerated widths:\n{Tail(text)}\n{errors}");
        string expected = $"Vector512={v512} Vector256={v256} Vector128={v128}";
        Assert.Equal(expected, widths.Groups[1].Value.Trim());
        Assert.True(child.ExitCode == 0, $"kernel-check failed under {settings} (exit code {child.ExitCode}):\n{Tail(text)}\n{errors}");
        // Every group ran in the child, and none failed.
        Assert.Contains(string.Create(CultureInfo.InvariantCulture, $"kernel-check: {KernelChecks.All.Count} groups, 0 failed,"), text, StringComparison.Ordinal);
    }

    private static string Tail(string text) => text.Length <= 12000 ? text : "..." + text[^12000..];

    [GeneratedRegex("^" + KernelCheckProgram.WidthsPrefix + "(.*)$", RegexOptions.Multiline)]
    private static partial Regex WidthsLine();
}
