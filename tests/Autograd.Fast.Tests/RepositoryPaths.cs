namespace AutogradFast.Tests;

/// <summary>Finds the repository from the test's output folder (tests that read sources or run tools).</summary>
internal static class RepositoryPaths
{
    public static string Root { get; } = FindRoot();

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Autograd.Fast.sln"))) return dir.FullName;
        // Built with --artifacts-path outside the repository: fall back to the source location.
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(ThisFile())!); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Autograd.Fast.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException("Could not find Autograd.Fast.sln above " + AppContext.BaseDirectory);
    }

    private static string ThisFile([System.Runtime.CompilerServices.CallerFilePath] string path = "") => path;
}
