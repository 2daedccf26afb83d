namespace AutogradFast.Tool.Seeds;

/// <summary>The five seed notebooks of ../shared/seeds, translated to C# cell by cell.</summary>
internal static class SeedWalkthrough
{
    private static readonly (string Name, string Title, Action<Notebook> Run)[] s_notebooks =
    [
        ("000", "scalar and vector inputs and outputs, gradient= scaling, index assignment into zeros", Notebook000.Run),
        ("001", "0-d versus shape-[1] tensors, gradient= scaling, sum, torch.mm, non-scalar outputs", Notebook001.Run),
        ("002", "add, mul, exp, the non-scalar backward error, detach, grad.zero_() in a loop", Notebook002.Run),
        ("003", "dy/dx and dy/du of a polynomial, dot and @ on 1-D and 2-D tensors, control flow", Notebook003.Run),
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
