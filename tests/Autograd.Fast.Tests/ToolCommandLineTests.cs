using AutogradFast.Tool;

namespace AutogradFast.Tests;

/// <summary><c>autograd-fast</c>'s command line: help, version, notebook names, and arguments it does not know.</summary>
public class ToolCommandLineTests
{
    private static (int Code, string Output, string Error) Run(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Program.Run(args, output, error);
        return (code, output.ToString(), error.ToString());
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    [InlineData("help")]
    public void Help_PrintsTheUsageAndSucceeds(string flag)
    {
        var (code, output, error) = Run(flag);
        Assert.Equal(0, code);
        Assert.Contains("Usage: autograd-fast COMMAND", output);
        Assert.Contains("seeds [NAME...]", output);
        Assert.Contains("--version", output);
        Assert.DoesNotContain("shared/seeds", output); // the notebooks are built in; a clone has no ../shared
        Assert.Equal("", error);
    }

    [Fact]
    public void NoArguments_PrintsTheUsage_InsteadOfRunningAnything()
    {
        var (code, output, error) = Run();
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains("no command given", error);
        Assert.Contains("Usage: autograd-fast COMMAND", error);
    }

    [Fact]
    public void Version_PrintsTheVersionOfDirectoryBuildProps()
    {
        var (code, output, _) = Run("--version");
        Assert.Equal(0, code);
        string props = File.ReadAllText(Path.Combine(RepositoryPaths.Root, "Directory.Build.props"));
        string version = System.Text.RegularExpressions.Regex.Match(props, "<Version>([^<]+)</Version>").Groups[1].Value;
        Assert.NotEqual("", version);
        Assert.Equal($"autograd-fast {version}", output.Trim());
    }

    [Fact]
    public void ApiTour_ChecksEveryFeature_AndPasses()
    {
        var (code, output, error) = Run("api");
        Assert.True(code == 0, output + error);
        string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(12, lines.Count(l => l.StartsWith("ok ", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("FAILED", StringComparison.Ordinal));
        Assert.Contains("ok     custom function: MulBackward0 <- ExpBackward", output);
        Assert.Equal(2, Run("api", "extra").Code);
    }

    [Fact]
    public void SeedsHelp_DescribesTheCommand()
    {
        var (code, output, _) = Run("seeds", "--help");
        Assert.Equal(0, code);
        Assert.Contains("autograd-fast seeds [NAME...]", output);
        Assert.DoesNotContain("# Notebook", output);
    }

    [Theory]
    [InlineData("3")]
    [InlineData("03")]
    [InlineData("003")]
    public void ANotebook_CanBeNamedWithOrWithoutLeadingZeros(string name)
    {
        var (code, output, _) = Run("seeds", name);
        Assert.Equal(0, code);
        Assert.Contains("# Notebook 003:", output);
        Assert.DoesNotContain("# Notebook 002:", output);
        Assert.Equal(Run("seeds", "003").Output, output);
    }

    [Fact]
    public void SeveralNotebooks_RunInOrder()
    {
        var (code, output, _) = Run("seeds", "4", "1");
        Assert.Equal(0, code);
        int one = output.IndexOf("# Notebook 001:", StringComparison.Ordinal), four = output.IndexOf("# Notebook 004:", StringComparison.Ordinal);
        Assert.True(one >= 0 && four > one);
        Assert.DoesNotContain("# Notebook 000:", output);
    }

    [Theory]
    [InlineData("seeds", "9", "no notebook named '9'")]
    [InlineData("seeds", "0031", "no notebook named '0031'")]
    [InlineData("seeds", "--fast", "unknown option '--fast'")]
    [InlineData("seeds", "003 extra", "no notebook named '003 extra'")]
    public void AnUnknownNotebookOrOption_IsAUsageErrorAndRunsNothing(string command, string argument, string message)
    {
        var (code, output, error) = Run(command, argument);
        Assert.Equal(2, code);
        Assert.Equal("", output);
        Assert.Contains(message, error);
    }

    [Fact]
    public void ExtraArguments_AreRejected()
    {
        var (code, output, error) = Run("seeds", "003", "extra");
        Assert.Equal(2, code);
        Assert.Equal("", output); // validated before anything runs
        Assert.Contains("no notebook named 'extra'", error);
        Assert.Equal(2, Run("--version", "now").Code);
        Assert.Equal(2, Run("help", "me").Code);
        Assert.Equal(2, Run("compare", "a.json", "b.json", "c.json").Code);
        Assert.Equal(2, Run("peers", "--smoke", "extra").Code);
    }

    [Fact]
    public void AnUnknownCommand_IsAUsageError()
    {
        var (code, _, error) = Run("sedes");
        Assert.Equal(2, code);
        Assert.Contains("unknown command 'sedes'", error);
    }
}
