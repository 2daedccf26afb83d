namespace AutogradFast.Tool.Workloads;

/// <summary>The one place where the peers command sets how many cores the library may use.</summary>
internal static class LibraryThreads
{
    /// <summary>What the JSON's env says about the library's threading.</summary>
    public static string Status => $"Autograd.NumThreads = {Autograd.NumThreads}";

    /// <summary>Sets the library's thread budget for the following steps (workloads.md: "threads = n" means up to n cores).</summary>
    public static void Set(int threads)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(threads, 1);
        Autograd.SetNumThreads(threads);
    }
}
