#!/usr/bin/python3
"""Oracle for error paths: records PyTorch's exact error messages and which graphs PyTorch lets
you backward through twice without retain_graph.

Run with the system interpreter, which has PyTorch 1.13:

    /usr/bin/python3 tests/oracle/error_fixtures.py

Writes tests/Autograd.Fast.Tests/Fixtures/errors.json:
    {"messages": {scenario: first line of PyTorch's message},
     "backward_twice": {op: true if a second .backward() of f(x).sum() succeeds}}
ErrorTests.cs rebuilds each scenario in C# and compares the library's message with these.
"""

import json
import os

import torch

from oracle_common import record_error

messages = {}


def leaf(*shape, dtype=torch.float32):
    return torch.ones(*shape, dtype=dtype, requires_grad=True)


# ---- backward ----
record_error(messages, "implicit_grad_non_scalar", lambda: (leaf(2) * 2).backward())
record_error(messages, "gradient_shape_mismatch", lambda: (leaf(2) * 2).backward(torch.ones(3)))


def backward_twice():
    y = (leaf(3) * leaf(3)).sum()
    y.backward()
    y.backward()


record_error(messages, "backward_twice", backward_twice)
record_error(messages, "backward_without_grad", lambda: torch.ones(2).sum().backward())
# A given gradient's shape is checked before whether the output requires grad.
record_error(messages, "gradient_shape_checked_before_requires_grad", lambda: torch.ones(2).backward(torch.ones(3)))
# Without a gradient, a non-scalar output that requires no grad reports the missing grad first.
record_error(messages, "implicit_grad_without_requires_grad", lambda: torch.ones(2).backward())


# ---- assigning .grad ----
def assign_grad(value):
    x = leaf(3)
    x.grad = value


record_error(messages, "grad_assign_self", lambda: (lambda x: setattr(x, "grad", x))(leaf(3)))
record_error(messages, "grad_assign_type", lambda: assign_grad(torch.ones(3, dtype=torch.float64)))
record_error(messages, "grad_assign_size", lambda: assign_grad(torch.ones(4)))
record_error(messages, "grad_assign_type_and_size", lambda: assign_grad(torch.ones(2, dtype=torch.float64)))

# ---- requires_grad ----
record_error(messages, "requires_grad_int64_factory", lambda: torch.zeros(3, dtype=torch.int64, requires_grad=True))


def requires_grad_setter():
    torch.zeros(3, dtype=torch.int64).requires_grad = True


record_error(messages, "requires_grad_int64_setter", requires_grad_setter)
record_error(messages, "requires_grad_int64_method", lambda: torch.zeros(3, dtype=torch.int64).requires_grad_())
record_error(messages, "requires_grad_false_on_non_leaf", lambda: (leaf(3) * 2).requires_grad_(False))

# ---- in-place writes ----
record_error(messages, "leaf_zero_", lambda: leaf(3).zero_())
record_error(messages, "leaf_add_", lambda: leaf(3).add_(torch.ones(3)))
record_error(messages, "leaf_fill_", lambda: leaf(3).fill_(2.0))
record_error(messages, "leaf_mul_", lambda: leaf(3).mul_(2.0))
record_error(messages, "leaf_copy_", lambda: leaf(3).copy_(torch.zeros(3)))
record_error(messages, "copy_broadcast_mismatch", lambda: torch.zeros(3).copy_(torch.ones(4)))
record_error(messages, "add_broadcast_mismatch", lambda: torch.zeros(3).add_(torch.ones(4)))
record_error(messages, "add_output_shape", lambda: torch.zeros(3).add_(torch.ones(2, 3)))


def assign_into_view_of_leaf():
    x = leaf(2, 3)
    v = x[0]
    v[1] = torch.tensor(5.0)


def assign_into_leaf():
    x = leaf(2, 3)
    x[0] = torch.tensor(5.0)


def zero_transposed_leaf():
    leaf(2, 3).t().zero_()


record_error(messages, "assign_into_view_of_leaf", assign_into_view_of_leaf)
record_error(messages, "assign_into_leaf", assign_into_leaf)
record_error(messages, "zero_view_of_leaf", zero_transposed_leaf)


def saved_value_modified_by_assignment():
    a = leaf(3)
    b = a * 2
    c = b * b
    b[0] = torch.tensor(5.0)
    c.sum().backward()


def saved_result_modified_by_slice_assignment():
    x = leaf(4, 2)
    y = x.exp()
    y[1:3] = torch.zeros(2, 2)
    y.sum().backward()


def saved_leaf_modified_under_no_grad():
    x = leaf(3)
    w = torch.ones(3)
    z = x * w
    with torch.no_grad():
        w.add_(torch.ones(3))
    z.sum().backward()


def saved_result_modified_under_no_grad():
    a = leaf(3, dtype=torch.float64)
    b = a.exp()
    c = b.sum()
    with torch.no_grad():
        b[0] = torch.tensor(3.0, dtype=torch.float64)
    c.backward()


record_error(messages, "saved_value_modified_by_assignment", saved_value_modified_by_assignment)
record_error(messages, "saved_result_modified_by_slice_assignment", saved_result_modified_by_slice_assignment)
record_error(messages, "saved_leaf_modified_under_no_grad", saved_leaf_modified_under_no_grad)
record_error(messages, "saved_result_modified_under_no_grad", saved_result_modified_under_no_grad)

# ---- shapes and dtypes of products and broadcasting ----
record_error(messages, "mm_shapes", lambda: torch.mm(torch.ones(2, 3), torch.ones(2, 3)))
record_error(messages, "mm_self_not_matrix", lambda: torch.mm(torch.ones(3), torch.ones(3, 3)))
record_error(messages, "mm_mat2_not_matrix", lambda: torch.mm(torch.ones(3, 3), torch.ones(3)))
record_error(messages, "mm_dtype", lambda: torch.mm(torch.ones(2, 2), torch.ones(2, 2, dtype=torch.float64)))
record_error(messages, "mv_size", lambda: torch.mv(torch.ones(2, 3), torch.ones(2)))
record_error(messages, "mv_dtype", lambda: torch.mv(torch.ones(2, 2), torch.ones(2, dtype=torch.float64)))
record_error(messages, "dot_2d", lambda: torch.dot(torch.ones(2, 3), torch.ones(2, 3)))
record_error(messages, "dot_size", lambda: torch.dot(torch.ones(2), torch.ones(3)))
record_error(messages, "dot_dtype", lambda: torch.dot(torch.ones(2), torch.ones(2, dtype=torch.float64)))
record_error(messages, "matmul_2d_2d", lambda: torch.matmul(torch.ones(2, 3), torch.ones(2, 3)))
record_error(messages, "matmul_2d_1d", lambda: torch.matmul(torch.ones(2, 3), torch.ones(2)))
record_error(messages, "matmul_1d_2d", lambda: torch.matmul(torch.ones(2), torch.ones(3, 3)))
record_error(messages, "matmul_1d_1d", lambda: torch.matmul(torch.ones(2), torch.ones(3)))
record_error(messages, "broadcast_last_dim", lambda: torch.ones(2, 3) + torch.ones(2))
record_error(messages, "broadcast_first_dim", lambda: torch.ones(2, 3) * torch.ones(4, 1))

# ---- indexing and views ----
record_error(messages, "index_out_of_range", lambda: torch.ones(3)[3])
record_error(messages, "index_negative_out_of_range", lambda: torch.ones(3)[-4])
record_error(messages, "index_second_dim_out_of_range", lambda: torch.ones(2, 3)[1, 3])
record_error(messages, "index_0d", lambda: torch.tensor(1.0)[0])
record_error(messages, "too_many_indices", lambda: torch.ones(3)[0, 0])
record_error(messages, "too_many_indices_0d", lambda: torch.tensor(1.0)[0, 0])
record_error(messages, "select_out_of_range", lambda: torch.ones(2, 3).select(1, 5))
record_error(messages, "select_negative_dim_out_of_range", lambda: torch.ones(2, 3).select(-1, -4))
record_error(messages, "select_0d", lambda: torch.tensor(1.0).select(0, 0))
record_error(messages, "transpose_dim_out_of_range", lambda: torch.ones(2, 3).transpose(0, 2))
record_error(messages, "t_3d", lambda: torch.ones(2, 3, 4).t())
record_error(messages, "item_of_many", lambda: torch.ones(3).item())
record_error(messages, "expand_too_few_sizes", lambda: torch.ones(3, 1).expand(3))
record_error(messages, "expand_size", lambda: torch.ones(3).expand(2, 4))
record_error(messages, "expand_new_dim_minus_one", lambda: torch.ones(3).expand(-1, 3))
record_error(messages, "expand_add_", lambda: torch.ones(1).expand(3).add_(torch.ones(3)))
record_error(messages, "expand_copy_", lambda: torch.ones(2, 1).expand(2, 3).copy_(torch.zeros(2, 3)))
record_error(messages, "expand_mul_", lambda: torch.ones(2, 1).expand(2, 3).mul_(2.0))

# ---- which graphs may be walked twice without retain_graph ----
W = torch.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], dtype=torch.float64)


def copyslices_into_zeros(x):
    y = torch.zeros(2, 3, dtype=x.dtype)
    y[0] = x[1]
    return y


def copyslices_into_non_leaf(x):
    y = x * 1.0
    y[0] = x[1]
    return y


def copyslices_plain(x):
    y = x + 0
    y[0] = x[1]
    return y


TWICE = {
    "add": lambda x: x + x,
    "add_scalar": lambda x: x + 2,
    "sub": lambda x: x - x.detach(),
    "sub_scalar": lambda x: x - 2,
    "rsub_scalar": lambda x: 2 - x,
    "mul": lambda x: x * W.t(),
    "mul_scalar": lambda x: x * 2,
    "div": lambda x: x / W.t(),
    "div_scalar": lambda x: x / 2,
    "neg": lambda x: -x,
    "reciprocal": lambda x: x.reciprocal(),
    "pow": lambda x: x ** 2,
    "exp": lambda x: x.exp(),
    "log": lambda x: x.log(),
    "tanh": lambda x: x.tanh(),
    "sigmoid": lambda x: x.sigmoid(),
    "relu": lambda x: x.relu(),
    "sum": lambda x: x.sum(),
    "mean": lambda x: x.mean(),
    "norm": lambda x: x.norm(),
    "dot": lambda x: torch.dot(x[0], x[1]),
    "mm": lambda x: x.mm(W),
    "mv": lambda x: x.mv(W[:, 0]),
    "matmul_1d_2d": lambda x: torch.matmul(x[0], W),
    "t": lambda x: x.t(),
    "transpose": lambda x: x.transpose(0, 1),
    "select": lambda x: x[1],
    "slice": lambda x: x[:, 0:3:2],
    "unsqueeze": lambda x: x.unsqueeze(0),
    "expand": lambda x: x[0:1].expand(3, 3),
    "clone": lambda x: x.clone(),
    "contiguous": lambda x: x.t().contiguous(),
    "to_float32": lambda x: x.to(torch.float32),
    "copy_": lambda x: torch.zeros(2, 3, dtype=x.dtype).copy_(x),
    "copyslices_plain": copyslices_plain,
}

backward_twice_allowed = {}
for op, f in TWICE.items():
    x = torch.tensor([[0.5, 1.5, 2.0], [1.2, 0.7, 1.1]], dtype=torch.float64, requires_grad=True)
    y = f(x)
    y = y.sum() if y.dim() else y
    y.backward()
    try:
        y.backward()
        backward_twice_allowed[op] = True
    except RuntimeError as e:
        assert "backward through the graph a second time" in str(e), (op, e)
        backward_twice_allowed[op] = False

out_path = os.path.normpath(
    os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Autograd.Fast.Tests", "Fixtures", "errors.json")
)
with open(out_path, "w", encoding="utf-8") as fh:
    json.dump({"torch": torch.__version__, "messages": messages, "backward_twice": backward_twice_allowed}, fh, indent=1)
    fh.write("\n")
print(f"torch {torch.__version__}: wrote {len(messages)} messages and {len(backward_twice_allowed)} ops to {out_path}")
