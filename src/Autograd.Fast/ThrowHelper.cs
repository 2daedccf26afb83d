using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using AutogradFast.Storage;

namespace AutogradFast;

/// <summary>
/// Every error the library raises, in one place so hot paths stay small and the messages are
/// reviewed together. Where PyTorch has a message for the same mistake, we use its wording.
/// </summary>
internal static class ThrowHelper
{
    // ---- handles and lifetimes ----

    [DoesNotReturn]
    public static void InvalidHandle(Tensor t)
    {
        TensorContext? c = t.Context;
        if (c is null)
            throw new InvalidOperationException("This Tensor is default(Tensor): it was never created by a factory or an op.");
        int holder = c.HolderThreadId;
        if (holder != Environment.CurrentManagedThreadId)
            throw new InvalidOperationException(
                $"This tensor belongs to a graph that thread {holder} is using, and is used on thread {Environment.CurrentManagedThreadId} at the same time. " +
                "A graph belongs to one logical flow at a time: it follows that flow across awaits, but two threads cannot use it at once " +
                "(await the work that uses it instead of running it in parallel, or give each thread its own tensors).");
        ref TensorRecord r = ref c.Records[t.Slot];
        bool justReleased = r.Generation == t.Generation + 1;
        string by = !justReleased ? "when its scope ended"
            : r.ReleasedByScope > 0 ? $"when Autograd.Scope #{r.ReleasedByScope} ended"
            : r.ReleasedByScope == TensorRecord.ReleasedAsGrad ? "when the last tensor holding it as its .Grad let go of it (.Grad = null or another gradient assigned)"
            : "by the autograd engine (a consumed temporary)";
        throw new ObjectDisposedException(nameof(Tensor),
            $"This tensor was released {by}; its memory has gone back to the pool. " +
            "Create it outside the scope, or copy it out with scope.Keep(tensor) before the scope ends.");
    }

    [DoesNotReturn]
    public static void ScopeClosedOutOfOrder(int id, int innermost) => throw new InvalidOperationException(
        $"Autograd.Scope #{id} was disposed while scope #{innermost} is the innermost open scope (or it was already disposed). " +
        "Scopes must end in the reverse order they were opened: use `using`.");

    /// <summary>A scope may end only on the thread that opened it: ending it elsewhere would close that thread's scope mid-use.</summary>
    /// <param name="owner">the context the scope was opened on</param>
    /// <param name="scopeId">the scope's number, or 0 for a no-grad scope (the message is only built on failure)</param>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static void CheckScopeThread(TensorContext? owner, int scopeId)
    {
        if (owner is null || (owner != TensorContext.CurrentOrNull && !TensorContext.TryEnter(owner))) ScopeOnWrongThread(owner, scopeId);
    }

    [DoesNotReturn]
    private static void ScopeOnWrongThread(TensorContext? owner, int scopeId)
    {
        string scope = scopeId > 0 ? $"Autograd.Scope #{scopeId}" : "A grad-mode or anomaly-mode scope";
        if (owner is null) throw new InvalidOperationException($"{scope}: this scope value was not opened by Autograd.Scope(), Autograd.NoGrad(), Autograd.EnableGrad(), Autograd.SetGradEnabled(), Autograd.InferenceMode() or Autograd.DetectAnomaly() (it is a default value).");
        throw new InvalidOperationException(
            $"{scope} belongs to a graph that thread {owner.HolderThreadId} is using, and is being disposed on thread {Environment.CurrentManagedThreadId} at the same time. " +
            "A scope belongs to the flow that opened it: dispose it there (with `using`; across awaits is fine).");
    }

    [DoesNotReturn]
    public static void ScopeDuringBackward() => throw new InvalidOperationException(
        "An Autograd.Scope cannot be opened or ended while a backward pass computes gradients (from a hook or a custom function's backward).");

    [DoesNotReturn]
    public static T ForeignTensor<T>() => throw new InvalidOperationException(
        "The tensors belong to different graphs (made by different flows or threads): an op cannot combine them. Copy the values over (Tensor.FromSpan) instead.");

    [DoesNotReturn]
    public static void InPlaceOnOuterScope(string what) => throw new InvalidOperationException(
        $"{what} would record a graph node on a tensor created in an outer scope; the node would be freed when the inner " +
        "scope ends while the tensor lives on. Do the in-place write in the tensor's own scope, or under Autograd.NoGrad().");

    // ---- shapes ----

    [DoesNotReturn]
    public static void RankTooLarge(int rank) => throw new ArgumentException($"Tensors have at most {Dims.MaxRank} dimensions; got {rank}.");

    [DoesNotReturn]
    public static void NegativeDimension(int d) => throw new ArgumentException($"Trying to create tensor with negative dimension {d}.");

    [DoesNotReturn]
    public static void TensorTooLarge(ReadOnlySpan<int> shape) => throw new ArgumentException($"A tensor of shape {Dims.Format(shape)} has more than {int.MaxValue} elements.");

    [DoesNotReturn]
    public static void DimOutOfRange(int dim, int rank) => throw new IndexOutOfRangeException(
        $"Dimension out of range (expected to be in range of [{-Math.Max(rank, 1)}, {Math.Max(rank, 1) - 1}], but got {dim})");

    [DoesNotReturn]
    public static void BroadcastMismatch(int sizeA, int sizeB, int dim) => throw new ArgumentException(
        $"The size of tensor a ({sizeA}) must match the size of tensor b ({sizeB}) at non-singleton dimension {dim}");

    [DoesNotReturn]
    public static void DataShapeMismatch(int values, ReadOnlySpan<int> shape) => throw new ArgumentException(
        $"{values} values cannot fill a tensor of shape {Dims.Format(shape)} ({Dims.NumEl(shape)} elements).");

    [DoesNotReturn]
    public static void LengthOfScalar() => throw new InvalidOperationException("len() of a 0-d tensor");

    [DoesNotReturn]
    public static void IndexOutOfRange(int index, int dim, int size) => throw new IndexOutOfRangeException(
        $"index {index} is out of bounds for dimension {dim} with size {size}");

    [DoesNotReturn]
    public static void IndexZeroDim() => throw new IndexOutOfRangeException(
        "invalid index of a 0-dim tensor. Use `tensor.Item()` to convert a 0-dim tensor to a number");

    [DoesNotReturn]
    public static void TooManyIndices(int count, int rank) => throw new IndexOutOfRangeException(
        $"too many indices for tensor of dimension {rank} (got {count})");

    [DoesNotReturn]
    public static void SelectOutOfRange(int index, Size shape, int dim) => throw new IndexOutOfRangeException(
        $"select(): index {index} out of range for tensor of size {Dims.Format(shape.AsSpan())} at dimension {dim}");

    [DoesNotReturn]
    public static void SelectZeroDim() => throw new IndexOutOfRangeException("select() cannot be applied to a 0-dim tensor.");

    [DoesNotReturn]
    public static void TransposeRank(int rank) => throw new ArgumentException(
        $"t() expects a tensor with <= 2 dimensions, but self is {rank}D");

    [DoesNotReturn]
    public static void AssignShapeMismatch(Size src, Size dst) => throw new ArgumentException(
        $"shape mismatch: value tensor of shape {Dims.Format(src.AsSpan())} cannot be broadcast to indexing result of shape {Dims.Format(dst.AsSpan())}");

    [DoesNotReturn]
    public static void ExpandTooFewSizes(DType dtype, Size shape, ReadOnlySpan<int> sizes) => throw new ArgumentException(
        $"expand(torch.{dtype.ScalarTypeName()}Tensor{{{Dims.Format(shape.AsSpan())}}}, size={Dims.Format(sizes)}): the number of sizes provided ({sizes.Length}) " +
        $"must be greater or equal to the number of dimensions in the tensor ({shape.Rank})");

    [DoesNotReturn]
    public static void ExpandNewDimension(int size, int dim) => throw new ArgumentException(
        $"The expanded size of the tensor ({size}) isn't allowed in a leading, non-existing dimension {dim}");

    [DoesNotReturn]
    public static void ExpandSize(int size, int existing, int dim, ReadOnlySpan<int> sizes, Size shape) => throw new ArgumentException(
        $"The expanded size of the tensor ({size}) must match the existing size ({existing}) at non-singleton dimension {dim}.  " +
        $"Target sizes: {Dims.Format(sizes)}.  Tensor sizes: {Dims.Format(shape.AsSpan())}");

    [DoesNotReturn]
    public static void InternalOverlap(string call) => throw new InvalidOperationException(
        $"{call}: unsupported operation: more than one element of the written-to tensor refers to a single memory location. " +
        "Please clone() the tensor before performing the operation.");

    [DoesNotReturn]
    public static void OutputShapeMismatch(Size output, Size broadcast) => throw new ArgumentException(
        $"output with shape {Dims.Format(output.AsSpan())} doesn't match the broadcast shape {Dims.Format(broadcast.AsSpan())}");

    [DoesNotReturn]
    public static void RecordedAssignIntoOverlappingBase() => throw new InvalidOperationException(
        "index assignment: autograd cannot record a write into an expanded tensor (its elements share memory, so the gradient of " +
        "the written part is ambiguous); clone() the tensor first.");

    [DoesNotReturn]
    public static void DotRank(int rankA, int rankB) => throw new ArgumentException($"1D tensors expected, but got {rankA}D and {rankB}D tensors");

    [DoesNotReturn]
    public static void DotSize(int a, int b) => throw new ArgumentException(
        $"inconsistent tensor size, expected tensor [{a}] and src [{b}] to have the same number of elements, but got {a} and {b} elements respectively");

    [DoesNotReturn]
    public static void DotDType(DType a, DType b) => throw new ArgumentException(
        $"dot : expected both vectors to have same dtype, but found {a.ScalarTypeName()} and {b.ScalarTypeName()}");

    [DoesNotReturn]
    public static void MatrixExpected(string which) => throw new ArgumentException($"{which} must be a matrix");

    [DoesNotReturn]
    public static void MmShapes(int m1r, int m1c, int m2r, int m2c) => throw new ArgumentException(
        $"mat1 and mat2 shapes cannot be multiplied ({m1r}x{m1c} and {m2r}x{m2c})");

    [DoesNotReturn]
    public static void MvSize(int rows, int columns, int vector) => throw new ArgumentException(
        $"size mismatch, got {rows}, {rows}x{columns},{vector}");

    [DoesNotReturn]
    public static void ScalarTypeMismatch(DType expected, DType found) => throw new ArgumentException(
        $"expected scalar type {expected.ScalarTypeName()} but found {found.ScalarTypeName()}");

    [DoesNotReturn]
    public static void MatMulShapes(Size a, Size b) => throw new ArgumentException(
        $"matmul: shapes {Dims.Format(a.AsSpan())} and {Dims.Format(b.AsSpan())} cannot be multiplied");

    [DoesNotReturn]
    public static void MatMulRank(int rankA, int rankB) => throw new ArgumentException(
        $"matmul supports 1-D and 2-D operands; got {rankA}D and {rankB}D");

    // ---- dtypes and values ----

    /// <summary>PyTorch words this three ways: factories (capital O), the requires_grad setter, and requires_grad_() (no "complex").</summary>
    [DoesNotReturn]
    public static void RequiresGradNotFloatingPoint() => throw new InvalidOperationException(
        "Only Tensors of floating point and complex dtype can require gradients");

        [DoesNotReturn]
    public static void RequiresGradNotFloatingPointSetter() => throw new InvalidOperationException(
        "only Tensors of floating point and complex dtype can require gradients");

    [DoesNotReturn]
    public static void RequiresGradNotFloatingPointMethod() => throw new InvalidOperationException(
        "only Tensors of floating point dtype can require gradients");

    [DoesNotReturn]
    public static void RequiresGradOnInferenceTensor() => throw new InvalidOperationException(
        "Setting requires_grad=True on inference tensor outside InferenceMode is not allowed.");

    [DoesNotReturn]
    public static void InferenceTensorSaved() => throw new InvalidOperationException(
        "Inference tensors cannot be saved for backward. To work around you can make a clone to get a normal tensor and use it in autograd.");

    [DoesNotReturn]
    public static void InPlaceOnInferenceTensor() => throw new InvalidOperationException(
        "Inplace update to inference tensor outside InferenceMode is not allowed.You can make a clone to get a normal tensor before doing inplace update.See https://github.com/pytorch/rfcs/pull/17 for more details.");

    [DoesNotReturn]
    public static void DetachViewInPlace() => throw new InvalidOperationException(
        "Can't detach views in-place. Use detach() instead. If you are using DistributedDataParallel (DDP) for training, and gradient_as_bucket_view is set as True, " +
        "gradients are views of DDP buckets, and hence detach_() cannot be called on these gradients. To fix this error, please refer to the Optimizer.zero_grad() " +
        "function in torch/optim/optimizer.py as the solution.");

    /// <summary>Anomaly mode: a backward rule produced NaN or Inf. PyTorch's first sentence, then the forward call that recorded the node (PyTorch warns it separately).</summary>
    [DoesNotReturn]
    public static void AnomalyInBackward(string gradFn, string what, int output, string? callSite) => throw new InvalidOperationException(
        $"Function '{gradFn}' returned {what} values in its {output}th output." +
        (callSite is null
            ? " The forward call that recorded it is unknown: it was recorded while anomaly mode was off."
            : $" Error detected in {gradFn}. Traceback of forward call that caused the error:\n{callSite}"));

    [DoesNotReturn]
    public static void RequiresGradOnNonLeaf() => throw new InvalidOperationException(
        "you can only change requires_grad flags of leaf variables. If you want to use a computed variable in a subgraph that doesn't require differentiation use var_no_grad = var.detach().");

    [DoesNotReturn]
    public static void BoolArithmetic(string op) => throw new NotSupportedException(
        $"{op}: arithmetic on bool tensors is not supported; convert first with .To(DType.Int64) or .To(DType.Float32).");

    [DoesNotReturn]
    public static void WhereCondition(DType dtype) => throw new ArgumentException(
        $"where expected condition to be a boolean tensor, but got a tensor with dtype {dtype.ScalarTypeName()}");

    [DoesNotReturn]
    public static void SliceZeroDim() => throw new ArgumentException("slice() cannot be applied to a 0-dim tensor.");

    [DoesNotReturn]
    public static void SliceStep(int step) => throw new ArgumentException($"slice step must be positive (got {step})", nameof(step));

    [DoesNotReturn]
    public static void MeanOfIntegers(DType dtype) => throw new InvalidOperationException(
        $"mean(): could not infer output dtype. Input dtype must be either a floating point or complex dtype. Got: {dtype.ScalarTypeName()}");

    [DoesNotReturn]
    public static T NotAnOpOf<T>(Graph.OpKind kind, string family) => throw new InvalidOperationException(
        $"Internal error: {kind} is not an op of {family}.");

    [DoesNotReturn]
    public static void RuleReadsUnsavedValue(string node) => throw new InvalidOperationException(
        $"Internal error: the rule of {node} reads a value its row does not save.");

    [DoesNotReturn]
    public static void TooManyInputs(int count) => throw new ArgumentException($"An op has between 1 and 255 inputs; got {count}.");

    [DoesNotReturn]
    public static void FloatingPointRequired(string op, DType dtype) => throw new NotSupportedException(
        $"{op} needs a floating-point tensor, got {dtype.TorchName()}.");

    [DoesNotReturn]
    public static void ItemOfMany(int numel) => throw new InvalidOperationException(
        $"a Tensor with {numel} elements cannot be converted to Scalar");

    [DoesNotReturn]
    public static void AmbiguousBoolean(int numel) => throw new InvalidOperationException(
        $"Boolean value of Tensor with {(numel == 0 ? "no values" : "more than one value")} is ambiguous");

    /// <summary><paramref name="call"/> is the read that failed, e.g. <c>Item&lt;Int32&gt;()</c>.</summary>
    [DoesNotReturn]
    public static void ElementTypeMismatch(DType dtype, string call) => throw new InvalidCastException(
        $"{call}: the tensor holds {dtype.TorchName()}, whose elements are {dtype.ElementTypeName()}; read it with that type " +
        $"(Item<{dtype.ElementTypeName()}>(), ToArray<{dtype.ElementTypeName()}>(), or Item() for a double), " +
        "or convert it first with .To(DType.Float32), .To(DType.Float64), .To(DType.Int64) or .To(DType.Bool).");

    [DoesNotReturn]
    public static void GradIsSelf() => throw new ArgumentException("can't assign Variable as its own grad");

    [DoesNotReturn]
    public static void GradShapeMismatch(Size grad, Size tensor) => throw new ArgumentException(
        $"assigned grad has data of a different size: {grad} vs {tensor}");

    [DoesNotReturn]
    public static void GradDTypeMismatch(DType grad, DType tensor) => throw new ArgumentException(
        $"assigned grad has data of a different type: {grad.TorchName()} vs {tensor.TorchName()}");

    // ---- hooks (TensorHooks.cs, Hooks.cs) ----

    [DoesNotReturn]
    public static void RetainGradWithoutGrad() => throw new InvalidOperationException(
        "can't retain_grad on Tensor that has requires_grad=False");

    [DoesNotReturn]
    public static void HookOnTensorWithoutGrad() => throw new InvalidOperationException(
        "cannot register a hook on a tensor that doesn't require gradient");

    [DoesNotReturn]
    public static void PostAccumulateHookOnNonLeaf() => throw new InvalidOperationException(
        "post accumulate grad hooks cannot be registered on non-leaf tensors");

    /// <summary>PyTorch names the hook by its Python name; a delegate has none worth printing, so it is numbered among the tensor's hooks.</summary>
    [DoesNotReturn]
    public static void HookChangedSize(int hookIndex, Size got, Size was) => throw new InvalidOperationException(
        $"hook #{hookIndex + 1} of the tensor has changed the size of value (was {was}, got {got}): a hook must return a gradient of the tensor's shape, or null to keep it");

    [DoesNotReturn]
    public static void HookChangedType(int hookIndex, DType got, DType was) => throw new InvalidOperationException(
        $"hook #{hookIndex + 1} of the tensor has changed the type of value (was torch.{was.ScalarTypeName()}Tensor got torch.{got.ScalarTypeName()}Tensor)");

    [DoesNotReturn]
    public static void BackwardInsideHook() => throw new InvalidOperationException(
        "Backward() and Autograd.Grad() cannot run inside a tensor hook: the hook is part of a backward pass that is still computing gradients. " +
        "Return the modified gradient from the hook instead, or run the second pass after Backward() returns.");

    [DoesNotReturn]
    public static void HookHandleOnWrongThread() => throw new InvalidOperationException(
        "RemovableHandle.Remove(): the hook's tensor belongs to a graph another thread is using at the same time; remove the hook on the flow that owns the tensor.");

    // ---- autograd ----

    [DoesNotReturn]
    public static void ImplicitGradNonScalar() => throw new InvalidOperationException("grad can be implicitly created only for scalar outputs");

    [DoesNotReturn]
    public static void GradientShapeMismatch(Size gradient, Size output, int index = 0) => throw new ArgumentException(
        $"Mismatch in shape: grad_output[{index}] has a shape of {gradient} and output[{index}] has a shape of {output}.");

    [DoesNotReturn]
    public static void BackwardWithoutGrad(int index = 0) => throw new InvalidOperationException(
        $"element {index} of tensors does not require grad and does not have a grad_fn");

    [DoesNotReturn]
    public static void DifferentiatedTensorWithoutGrad(bool forGrad) => throw new InvalidOperationException(forGrad
        ? "One of the differentiated Tensors does not require grad"
        : "Backward(inputs: ...): every input must require grad; one of them does not.");

    [DoesNotReturn]
    public static void DifferentiatedTensorUnused() => throw new InvalidOperationException(
        "One of the differentiated Tensors appears to not have been used in the graph. Set allowUnused: true if this is the desired behavior.");

    [DoesNotReturn]
    public static void GradNeedsOutputs() => throw new ArgumentException("Autograd.Grad: outputs must contain at least one tensor.");

    [DoesNotReturn]
    public static void GradNeedsInputs() => throw new ArgumentException("Autograd.Grad: inputs must contain at least one tensor.");

    [DoesNotReturn]
    public static void GradOutputsCount(int given, int outputs) => throw new ArgumentException(
        $"Autograd.Grad: gradOutputs has {given} tensors but outputs has {outputs}; give one per output, or none.");

    [DoesNotReturn]
    public static void BackwardTwice(string node) => throw new InvalidOperationException(
        $"Trying to backward through the graph a second time (or directly access saved tensors after they have already been freed). " +
        $"Saved intermediate values of the graph are freed when you call .Backward(). Specify retainGraph: true if you need to backward " +
        $"through the graph a second time or if you need to access saved tensors after calling backward. (node: {node})");

    [DoesNotReturn]
    public static void SavedValueModified(Size shape, DType dtype, string? producer, int version, int expected) => throw new InvalidOperationException(
        $"one of the variables needed for gradient computation has been modified by an inplace operation: " +
        $"[torch.{dtype.ScalarTypeName()}Tensor {Dims.Format(shape.AsSpan())}]" +
        (producer is null ? "" : $", which is output 0 of {(producer == "CopySlices" ? "torch::autograd::CopySlices" : producer)},") +
        $" is at version {version}; expected version {expected} instead.");

    [DoesNotReturn]
    public static void LeafInPlace() => throw new InvalidOperationException(
        "a leaf Variable that requires grad is being used in an in-place operation.");

    [DoesNotReturn]
    public static void LeafViewInPlace() => throw new InvalidOperationException(
        "a view of a leaf Variable that requires grad is being used in an in-place operation.");

    [DoesNotReturn]
    public static void GradientRuleShape(string node, int input, Size got, Size expected) => throw new InvalidOperationException(
        $"Function {node} returned an invalid gradient at index {input} - got {Dims.Format(got.AsSpan())} but expected shape compatible with {Dims.Format(expected.AsSpan())}");

    [DoesNotReturn]
    public static void SavedValueWrittenUnderAnomaly(Size shape, DType dtype, string node, string? savedAt, string writtenAt) => throw new InvalidOperationException(
        $"one of the variables needed for gradient computation is being modified by an inplace operation: " +
        $"[torch.{dtype.ScalarTypeName()}Tensor {Dims.Format(shape.AsSpan())}] is saved by {node}, whose backward would fail. " +
        "Anomaly mode stops the write itself (PyTorch reports it at backward); nothing was written.\n" +
        $"Saved for {node} by the forward call:\n{savedAt ?? "  (recorded before anomaly mode was on)"}\n" +
        $"Overwritten by the in-place call:\n{writtenAt}");

    [DoesNotReturn]
    public static void ResultTypeCannotCast(DType result, DType target) => throw new InvalidOperationException(
        $"result type {result.ScalarTypeName()} can't be cast to the desired output type {target.ScalarTypeName()}");

    // ---- custom functions ----

    [DoesNotReturn]
    public static void ReentrantBackward() => throw new InvalidOperationException(
        "Backward() and Autograd.Grad() cannot run while another backward pass is computing gradients (for instance inside a custom " +
        "function's Backward): compute the gradient with differentiable ops instead, or run the second pass after the first returns.");

    [DoesNotReturn]
    public static Tensor CustomJvpMissing(string function) => throw new NotImplementedException(
        $"You must implement the jvp function for custom autograd.Function to use it with forward mode AD ({function}: override Jvp).");

    [DoesNotReturn]
    public static void FunctionContextOutsideForward(string node, string call) => throw new InvalidOperationException(
        $"{call}() can only be called in Forward (node {node}): it says what the forward pass saved or returned.");

    [DoesNotReturn]
    public static void CustomForwardReturnedNothing(string function) => throw new InvalidOperationException(
        $"{function}.Forward returned no output (an empty array, or a default Tensor); it must return its output tensors.");

    [DoesNotReturn]
    public static void DirtyTensorNotReturned(string node) => throw new InvalidOperationException(
        $"Some elements marked as dirty during the forward method were not returned as output ({node}): MarkDirty takes inputs that " +
        "Forward wrote in place and returns.");

    [DoesNotReturn]
    public static void CustomGradientCount(string node, int expected, int got) => throw new InvalidOperationException(
        $"function {node} returned an incorrect number of gradients (expected {expected}, got {got})");

    [DoesNotReturn]
    public static void CustomTangentCount(string node, int expected, int got) => throw new InvalidOperationException(
        $"{node}: Jvp returned {got} tangents for {expected} outputs; return one per output.");

    [DoesNotReturn]
    public static void CustomGradientDType(string node, int input, DType dtype) => throw new InvalidOperationException(
        $"Function {node} returned an invalid gradient at index {input} - expected a floating-point gradient, got {dtype.TorchName()}");

    // ---- GradCheck and the functional transforms ----

    [DoesNotReturn]
    public static void GradCheckFailed(string message) => throw new GradCheckException(message);

    [DoesNotReturn]
    public static void GradCheckInputNotDouble(int index, DType dtype) => throw new ArgumentException(
        $"GradCheck: input {index} requires grad and is {dtype.TorchName()}, not torch.float64. Finite differences with eps = 1e-6 need double precision " +
        $"(PyTorch 1.13 only warns: 'Input #{index} requires gradient and is not a double precision floating point or complex.'). " +
        "Pass a float64 copy: x.Detach().To(DType.Float64).RequiresGrad_().", "inputs");

    [DoesNotReturn]
    public static void GradCheckNoInputRequiresGrad() => throw new ArgumentException(
        "gradcheck expects at least one input tensor to require gradient, but none of the them have requires_grad=True.", "inputs");

    [DoesNotReturn]
    public static void GradCheckOutputShapeChanged(int index, double eps, Size before, Size after) => throw new GradCheckException(
        $"Expected `func` to return outputs with the same shape when inputs are perturbed on index {index} by " +
        $"{eps.ToString("R", System.Globalization.CultureInfo.InvariantCulture).Replace('E', 'e')}, but got: shapes {before} and {after}.");

    [DoesNotReturn]
    public static void FunctionalVInvalidSize(Size expected, Size given) => throw new ArgumentException(
        $"v has invalid size: should be {expected} but got {given}.");

    [DoesNotReturn]
    public static void FunctionalVjpNeedsV() => throw new ArgumentException(
        "The vector v can only be None if the user-provided function returns a single Tensor with a single element.");

    /// <param name="transform">PyTorch's name of the transform: hessian, hvp or vhp</param>
    /// <param name="shape">what the function returned (not part of PyTorch's text, which it ends)</param>
    [DoesNotReturn]
    public static void FunctionalNotSingleElement(string transform, Size shape) => throw new ArgumentException(
        $"The Tensor returned by the function given to {transform} should contain a single element (it returned a tensor of shape {shape}).");

    [DoesNotReturn]
    public static void FunctionalJacobianRank(Size output, Size input) => throw new ArgumentException(
        $"Functional.Jacobian: the Jacobian of an output of shape {output} with respect to an input of shape {input} would have " +
        $"{output.Rank + input.Rank} dimensions; tensors have at most {Dims.MaxRank}.");
}
