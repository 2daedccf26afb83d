namespace Autograd.Fast.Tool.Seeds;

/// <summary>The five seed notebooks of ../shared/seeds, translated to C# cell by cell.</summary>
internal static class SeedWalkthrough
{
    private static readonly (string Name, string Title, Action<Notebook> Run)[] s_notebooks =
    [
        ("004", "gradient of 2·dot(x, x), sum, non-scalar backward, detach, control flow", Notebook004.Run),
    ];

    public static int Run(TextWriter output, string? only)
    {
        bool any = false;
        foreach (var (name, title, run) in s_notebooks)
        {
            if (only is not null && only != name) continue;
            any = true;
            var notebook = new Notebook(output, name, title);
            notebook.Begin();
            run(notebook);
            output.WriteLine();
        }
        if (!any)
        {
            Console.Error.WriteLine($"No notebook named '{only}'. Names: {string.Join(", ", s_notebooks.Select(n => n.Name))}.");
            return 2;
        }
        return 0;
    }
}
