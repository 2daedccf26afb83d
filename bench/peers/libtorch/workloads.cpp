// W1-W8 of shared/workloads.md ("Peer workloads, v1") in LibTorch (C++), Debian's libtorch-dev 1.13.
//
// One JSON line per (workload, threads) on stdout, workloads.md's format, impl "libtorch-cpp".
//
//   peers-libtorch --threads 1 --run 1 --variant default     # W1-W8 at 1 thread
//   peers-libtorch --threads 2 --run 1 --variant tuned       # W5-W7 at 2 threads
//   peers-libtorch --smoke [--threads N]                      # check values only, PASS/FAIL, exit 1 on a mismatch
//
// Threads: OpenBLAS reads OPENBLAS_NUM_THREADS when it loads (before main), so if the environment does
// not already say n the program sets OMP_NUM_THREADS and OPENBLAS_NUM_THREADS to n and re-executes
// itself; then it calls at::set_num_threads(n). The variant's environment (OPENBLAS_CORETYPE,
// OMP_WAIT_POLICY, ATEN_CPU_CAPABILITY, GLIBC_TUNABLES) is set by run.sh; --variant only names it.

#include <torch/torch.h>

#include <dlfcn.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

const char* const kImpl = "libtorch-cpp";

// ---- data: the counter-based SplitMix64 generator of workloads.md --------------------------------

uint64_t sm64(uint64_t seed, uint64_t i) {
    uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ULL;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

double u01(uint64_t seed, uint64_t i) { return static_cast<double>(sm64(seed, i) >> 40) * (1.0 / 16777216.0); }

int64_t numel(const std::vector<int64_t>& shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    return n;
}

// Built with -ffp-contract=off (CMakeLists.txt): lo + (hi - lo) * u must round twice, as in every other language.
std::vector<float> uniform_values(uint64_t seed, const std::vector<int64_t>& shape, double lo, double hi) {
    std::vector<float> v(static_cast<size_t>(numel(shape)));
    for (size_t i = 0; i < v.size(); i++) v[i] = static_cast<float>(lo + (hi - lo) * u01(seed, i));
    return v;
}

std::vector<float> normal_values(uint64_t seed, const std::vector<int64_t>& shape, double std_) {
    std::vector<float> v(static_cast<size_t>(numel(shape)));
    for (size_t i = 0; i < v.size(); i++)
        v[i] = static_cast<float>(std_ * std::sqrt(-2 * std::log(1 - u01(seed, 2 * i))) * std::cos(2 * M_PI * u01(seed, 2 * i + 1)));
    return v;
}

torch::Tensor to_tensor(const std::vector<float>& v, const std::vector<int64_t>& shape) {
    return torch::from_blob(const_cast<float*>(v.data()), shape, torch::kFloat32).clone();
}

torch::Tensor uniform(uint64_t seed, const std::vector<int64_t>& shape, double lo, double hi) {
    return to_tensor(uniform_values(seed, shape, lo, hi), shape);
}

torch::Tensor normal(uint64_t seed, const std::vector<int64_t>& shape, double std_) {
    return to_tensor(normal_values(seed, shape, std_), shape);
}

// Neumaier-compensated sum in double: the input-sum check needs ~1e-12 relative over 4M terms.
double exact_sum(const std::vector<float>& v) {
    double s = 0, c = 0;
    for (float f : v) {
        double x = f, t = s + x;
        c += std::fabs(s) >= std::fabs(x) ? (s - t) + x : (x - t) + s;
        s = t;
    }
    return s + c;
}

[[noreturn]] void die(const std::string& message) {
    std::fprintf(stderr, "%s\n", message.c_str());
    std::exit(2);
}

void verify_generator() {
    std::vector<std::string> errors;
    const uint64_t want[3] = {0x118e846ea93bc949ULL, 0x992ffac69a7acd4cULL, 0x1b9ec6ebbda97281ULL};
    for (int i = 0; i < 3; i++)
        if (sm64(41, i) != want[i]) errors.push_back("sm64(41, " + std::to_string(i) + ") mismatch");
    if (sm64(0, 0) != 0xe220a8397b1dcdafULL) errors.push_back("sm64(0, 0) mismatch");
    auto u = uniform_values(41, {1, 16}, -1, 1);
    if (u[0] != -0.8628382682800293 || u[1] != 0.1967766284942627 || u[2] != -0.784217119216919)
        errors.push_back("uniform(41, (1,16), -1, 1)[0..2] mismatch");
    auto n = normal_values(61, {4194304}, 0.1);
    if (n[0] != 0.07410642504692078 || n[1] != 0.0503920316696167 || n[2] != -0.0904509648680687)
        errors.push_back("normal(61, (4194304,), 0.1)[0..2] mismatch");
    const double s32 = 1 / std::sqrt(32.0);
    struct Sum { const char* name; std::vector<float> values; double expected; };
    std::vector<Sum> sums;
    sums.push_back({"W4 X", uniform_values(41, {1, 16}, -1, 1), -2.074571132659912});
    sums.push_back({"W4 W1", uniform_values(42, {16, 32}, -1.0 / 4, 1.0 / 4), 3.076010376214981});
    sums.push_back({"W4 b1", uniform_values(43, {32}, -1.0 / 4, 1.0 / 4), -0.22313329577445984});
    sums.push_back({"W4 W2", uniform_values(44, {32, 1}, -s32, s32), 0.07223450252786279});
    sums.push_back({"W4 b2", uniform_values(45, {1}, -s32, s32), 0.1656091958284378});
    sums.push_back({"W5 X", uniform_values(51, {256, 64}, -1, 1), -15.207106828689575});
    sums.push_back({"W5 Y", uniform_values(52, {256, 10}, -1, 1), -15.812421798706055});
    sums.push_back({"W5 W1", uniform_values(53, {64, 256}, -1.0 / 8, 1.0 / 8), 7.844932481646538});
    sums.push_back({"W5 b1", uniform_values(54, {256}, -1.0 / 8, 1.0 / 8), -2.3907638639211655});
    sums.push_back({"W5 W2", uniform_values(55, {256, 256}, -1.0 / 16, 1.0 / 16), -5.6091044023633});
    sums.push_back({"W5 b2", uniform_values(56, {256}, -1.0 / 16, 1.0 / 16), -0.2314855232834816});
    sums.push_back({"W5 W3", uniform_values(57, {256, 10}, -1.0 / 16, 1.0 / 16), -1.5584001392126083});
    sums.push_back({"W5 b3", uniform_values(58, {10}, -1.0 / 16, 1.0 / 16), -0.01659044623374939});
    sums.push_back({"W6 x", std::move(n), -169.38783074723253});
    sums.push_back({"W7 A", uniform_values(71, {1024, 1024}, -1, 1), 623.8754879236221});
    sums.push_back({"W7 B", uniform_values(72, {1024, 1024}, -1, 1), -250.69048857688904});
    for (const Sum& s : sums) {
        double got = exact_sum(s.values);
        if (std::fabs(got - s.expected) > 1e-12 * std::max(1.0, std::fabs(s.expected))) {
            char buf[200];
            std::snprintf(buf, sizeof buf, "input sum %s = %.17g, expected %.17g", s.name, got, s.expected);
            errors.push_back(buf);
        }
    }
    if (!errors.empty()) {
        std::string m = "GENERATOR CHECK FAILED:";
        for (auto& e : errors) m += "\n  " + e;
        die(m);
    }
}

/// Sum of a float32 tensor's elements in double (a check value).
double gsum(const torch::Tensor& t) { return t.to(torch::kFloat64).sum().item<double>(); }

// ---- the workloads: 1:1 the reference code of workloads.md --------------------------------------
// step(check) is one user step; with a non-null check it also records the check values, taken after
// backward() and before zeroing (the only extra work is reading them).

using Check = std::vector<std::pair<std::string, double>>;

struct Workload {
    virtual ~Workload() = default;
    virtual void setup() = 0;
    virtual void step(Check* check) = 0;
};

struct Info {
    const char* id;
    const char* name;
    bool threaded;
    long nodes;       // 0: no ns_per_node
    long long bytes;  // 0: no gbps
    long long flops;  // 0: no gflops
    std::function<std::unique_ptr<Workload>()> make;
};

struct W1 : Workload {
    torch::Tensor x, u;
    void setup() override {
        x = torch::tensor(3.0f, torch::requires_grad());
        u = torch::tensor(2.0f, torch::requires_grad());
    }
    void step(Check* check) override {
        auto y = 3 * x.pow(2) + 4 * x + 2 * u * x;
        y.backward();
        float gx = x.grad().item<float>(); float gu = u.grad().item<float>();
        if (check) *check = {{"y", y.item<float>()}, {"x.grad", gx}, {"u.grad", gu}};
        x.grad().zero_(); u.grad().zero_();
    }
};

struct W2 : Workload {
    torch::Tensor x;
    std::array<float, 4> g{};
    void setup() override { x = torch::arange(4, torch::kFloat32).requires_grad_(true); }
    void step(Check* check) override {
        auto y = 2 * torch::dot(x, x);
        y.backward();
        std::memcpy(g.data(), x.grad().contiguous().data_ptr<float>(), sizeof g);  // all 4 values to the host
        if (check) *check = {{"y", y.item<float>()}, {"x.grad[0]", g[0]}, {"x.grad[1]", g[1]}, {"x.grad[2]", g[2]}, {"x.grad[3]", g[3]}};
        x.grad().zero_();
    }
};

struct W3 : Workload {
    torch::Tensor x;
    void setup() override { x = torch::tensor(1.0f, torch::requires_grad()); }
    void step(Check* check) override {
        auto y = x;
        for (int i = 0; i < 500; i++) y = y * 1.0001 + 0.5;  // Tensor * double: MulBackward1 (see workloads.md)
        y.backward();
        float g = x.grad().item<float>();
        if (check) *check = {{"y", y.item<float>()}, {"x.grad", g}};
        x.grad().zero_();
    }
};

struct W4 : Workload {
    torch::Tensor X, T, W1_, b1, W2_, b2;
    std::vector<torch::Tensor> params;
    void setup() override {
        X = uniform(41, {1, 16}, -1, 1);
        T = torch::full({1, 1}, 0.5);
        W1_ = uniform(42, {16, 32}, -1.0 / 4, 1.0 / 4).requires_grad_(true);
        b1 = uniform(43, {32}, -1.0 / 4, 1.0 / 4).requires_grad_(true);
        W2_ = uniform(44, {32, 1}, -1 / std::sqrt(32.0), 1 / std::sqrt(32.0)).requires_grad_(true);
        b2 = uniform(45, {1}, -1 / std::sqrt(32.0), 1 / std::sqrt(32.0)).requires_grad_(true);
        params = {W1_, b1, W2_, b2};
    }
    void step(Check* check) override {
        auto h = torch::tanh(torch::mm(X, W1_) + b1);
        auto out = torch::mm(h, W2_) + b2;
        auto loss = (out - T).pow(2).mean();
        loss.backward();
        float lv = loss.item<float>();
        if (check)
            *check = {{"loss", lv}, {"W1.grad.sum", gsum(W1_.grad())}, {"b1.grad.sum", gsum(b1.grad())},
                      {"W2.grad.sum", gsum(W2_.grad())}, {"b2.grad.sum", gsum(b2.grad())}};
        {
            torch::NoGradGuard no_grad;
            for (auto& p : params) p.add_(p.grad(), -0.01);  // SGD, lr = 0.01
        }
        for (auto& p : params) p.grad().zero_();
    }
};

struct W5 : Workload {
    torch::Tensor X, Y, W1_, b1, W2_, b2, W3_, b3;
    std::vector<torch::Tensor> params;
    void setup() override {
        X = uniform(51, {256, 64}, -1, 1); Y = uniform(52, {256, 10}, -1, 1);
        W1_ = uniform(53, {64, 256}, -1.0 / 8, 1.0 / 8).requires_grad_(true);
        b1 = uniform(54, {256}, -1.0 / 8, 1.0 / 8).requires_grad_(true);
        W2_ = uniform(55, {256, 256}, -1.0 / 16, 1.0 / 16).requires_grad_(true);
        b2 = uniform(56, {256}, -1.0 / 16, 1.0 / 16).requires_grad_(true);
        W3_ = uniform(57, {256, 10}, -1.0 / 16, 1.0 / 16).requires_grad_(true);
        b3 = uniform(58, {10}, -1.0 / 16, 1.0 / 16).requires_grad_(true);
        params = {W1_, b1, W2_, b2, W3_, b3};
    }
    void step(Check* check) override {
        auto h1 = torch::relu(torch::mm(X, W1_) + b1);
        auto h2 = torch::relu(torch::mm(h1, W2_) + b2);
        auto out = torch::mm(h2, W3_) + b3;
        auto loss = (out - Y).pow(2).mean();
        loss.backward();
        float lv = loss.item<float>();
        if (check)
            *check = {{"loss", lv}, {"W1.grad.sum", gsum(W1_.grad())}, {"b1.grad.sum", gsum(b1.grad())}, {"W2.grad.sum", gsum(W2_.grad())},
                      {"b2.grad.sum", gsum(b2.grad())}, {"W3.grad.sum", gsum(W3_.grad())}, {"b3.grad.sum", gsum(b3.grad())}};
        {
            torch::NoGradGuard no_grad;
            for (auto& p : params) p.add_(p.grad(), -0.01);
        }
        for (auto& p : params) p.grad().zero_();
    }
};

struct W6 : Workload {
    torch::Tensor x;
    void setup() override {
        const int64_t N = 4194304;
        x = normal(61, {N}, 0.1).requires_grad_(true);
    }
    void step(Check* check) override {
        auto y = (x * x).exp().sum();
        y.backward();
        if (check) *check = {{"y", y.item<float>()}, {"x.grad.sum", gsum(x.grad())}};
        x.grad().zero_();
    }
};

struct W7 : Workload {
    torch::Tensor A, B;
    void setup() override {
        A = uniform(71, {1024, 1024}, -1, 1).requires_grad_(true);
        B = uniform(72, {1024, 1024}, -1, 1).requires_grad_(true);
    }
    void step(Check* check) override {
        torch::matmul(A, B).sum().backward();
        if (check) *check = {{"A.grad.sum", gsum(A.grad())}, {"B.grad.sum", gsum(B.grad())}};
        A.grad().zero_(); B.grad().zero_();
    }
};

struct W8 : Workload {
    torch::Tensor a;
    void setup() override { a = torch::tensor({0.7f}, torch::requires_grad()); }
    void step(Check* check) override {
        auto b = a * 2;
        while ((b.norm() < 1000).item<bool>()) b = b * 2;  // a tensor comparison converted to a host bool
        auto c = (b.sum() > 0).item<bool>() ? b : 100 * b;
        c.backward();
        float g = a.grad().item<float>();
        if (check) *check = {{"c", c.item<float>()}, {"a.grad", g}};
        a.grad().zero_();
    }
};

template <typename T>
std::function<std::unique_ptr<Workload>()> maker() {
    return [] { return std::unique_ptr<Workload>(new T()); };
}

const std::vector<Info>& workloads() {
    static const std::vector<Info> all = {
        {"W1", "seed-poly", false, 7, 0, 0, maker<W1>()},
        {"W2", "seed-dot", false, 2, 0, 0, maker<W2>()},
        {"W3", "chain-1k", false, 1000, 0, 0, maker<W3>()},
        {"W4", "mlp-tiny", false, 0, 0, 0, maker<W4>()},
        {"W5", "mlp-batch", true, 0, 0, 121372672LL, maker<W5>()},
        {"W6", "elementwise-4M", true, 0, 3LL * 4194304 * 4, 0, maker<W6>()},
        {"W7", "matmul-1024", true, 0, 0, 3LL * 2 * 1024 * 1024 * 1024, maker<W7>()},
        {"W8", "seed-loop", false, 0, 0, 0, maker<W8>()},
    };
    return all;
}

// ---- check values of workloads.md (tolerances as in torch_workloads.py) --------------------------

const std::map<std::string, std::vector<std::tuple<std::string, double, double>>>& expected() {
    static const std::map<std::string, std::vector<std::tuple<std::string, double, double>>> e = {
        {"W1", {{"y", 51.0, 1e-5}, {"x.grad", 26.0, 1e-5}, {"u.grad", 6.0, 1e-5}}},
        {"W2", {{"y", 28.0, 1e-5}, {"x.grad[0]", 0.0, 1e-6}, {"x.grad[1]", 4.0, 1e-6}, {"x.grad[2]", 8.0, 1e-6}, {"x.grad[3]", 12.0, 1e-6}}},
        // libtorch-cpp's x.grad: 500 multiplies by the double 1.0001 (MulBackward1), see workloads.md.
        {"W3", {{"y", 257.39468, 2e-4}, {"x.grad", 1.05126822, 2e-7}}},
        {"W4", {{"loss", 0.06571377, 5e-8}, {"W1.grad.sum", 0.0879058, 2e-7}, {"b1.grad.sum", -0.0423730, 2e-7},
                {"W2.grad.sum", -0.9276710, 2e-7}, {"b2.grad.sum", -0.5126939, 2e-7}}},
        {"W5", {{"loss", 0.34711057, 0.34711057 * 1e-5}, {"W1.grad.sum", -0.00632667, 1e-7}, {"b1.grad.sum", 0.0178568, 1e-6},
                {"W2.grad.sum", 1.2958853, 1.2958853 * 1e-5}, {"b2.grad.sum", 0.0387852, 1e-6}, {"W3.grad.sum", 0.0423774, 1e-6},
                {"b3.grad.sum", 0.00405241, 1e-7}}},
        {"W6", {{"y", 4236907.0, 1.0}, {"x.grad.sum", -347.8996, 347.8996 * 1e-5}}},
        {"W7", {{"A.grad.sum", -256707.17, 256707.17 * 4e-6}, {"B.grad.sum", 638848.43, 638848.43 * 4e-6}}},
        {"W8", {{"c", 1433.6, 1433.6 * 1e-6}, {"a.grad", 2048.0, 1e-3}}},
    };
    return e;
}

std::string json_fixed(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.1f", v);
    return buf;
}

std::string json_number(double v) {
    char buf[40];
    std::snprintf(buf, sizeof buf, "%.17g", v);
    return buf;
}

std::string json_check(const Check& check) {
    std::string s = "{";
    for (size_t i = 0; i < check.size(); i++) {
        if (i) s += ", ";
        s += "\"" + check[i].first + "\": " + json_number(check[i].second);
    }
    return s + "}";
}

// ---- timing method of workloads.md ---------------------------------------------------------------

using Clock = std::chrono::steady_clock;
const double kWarmupNs = 300e6, kTargetNs = 500e6;
const int kReps = 5;

double ns_since(Clock::time_point t0) { return std::chrono::duration<double, std::nano>(Clock::now() - t0).count(); }

struct Result {
    Check check;
    double median, min, max;
    long iters;
};

Result measure(const Info& info) {
    Result r;
    {
        auto w = info.make();
        w->setup();
        w->step(&r.check);  // 1. check step from fresh state
    }
    auto w = info.make();
    w->setup();  // fresh state again for timing
    long n = 0;
    double elapsed = 0;
    auto t0 = Clock::now();  // 2. warm-up: >= 0.3 s and >= 3 steps
    do {
        w->step(nullptr);
        n++;
        elapsed = ns_since(t0);
    } while (n < 3 || elapsed < kWarmupNs);
    r.iters = std::max(1L, static_cast<long>(std::ceil(kTargetNs / (elapsed / n))));  // 3.
    std::vector<double> means;
    for (int rep = 0; rep < kReps; rep++) {
        auto t = Clock::now();
        for (long i = 0; i < r.iters; i++) w->step(nullptr);
        means.push_back(ns_since(t) / r.iters);
    }
    std::sort(means.begin(), means.end());
    r.median = means[kReps / 2];
    r.min = means.front();
    r.max = means.back();
    return r;
}

std::string env_json(int threads) {
    std::string s = "{";
    const char* keys[] = {"OPENBLAS_CORETYPE", "OMP_WAIT_POLICY", "ATEN_CPU_CAPABILITY", "GLIBC_TUNABLES", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"};
    for (const char* k : keys) {
        const char* v = std::getenv(k);
        s += "\"" + std::string(k) + "\": \"" + (v ? v : "") + "\", ";
    }
    s += "\"torch\": \"" + std::to_string(TORCH_VERSION_MAJOR) + "." + std::to_string(TORCH_VERSION_MINOR) + "." + std::to_string(TORCH_VERSION_PATCH) + "\", ";
    s += "\"torch_threads\": " + std::to_string(at::get_num_threads()) + ", ";
    using CoreName = char* (*)();
    using NumThreads = int (*)();
    auto core = reinterpret_cast<CoreName>(dlsym(RTLD_DEFAULT, "openblas_get_corename"));
    auto nthreads = reinterpret_cast<NumThreads>(dlsym(RTLD_DEFAULT, "openblas_get_num_threads"));
    s += "\"openblas_core\": \"" + std::string(core ? core() : "unknown") + "\"";
    if (nthreads) s += ", \"openblas_threads\": " + std::to_string(nthreads());
    (void)threads;
    return s + "}";
}

}  // namespace

int main(int argc, char** argv) {
    int threads = 1;
    std::string run = "1", variant = "default", only;
    bool smoke = false;
    for (int i = 1; i < argc; i++) {
        std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) die("missing value after " + a);
            return argv[++i];
        };
        if (a == "--threads") threads = std::atoi(next().c_str());
        else if (a == "--run") run = next();
        else if (a == "--variant") variant = next();
        else if (a == "--only") only = next();
        else if (a == "--smoke") smoke = true;
        else die("usage: peers-libtorch [--threads N] [--run R] [--variant V] [--only W1,W2] [--smoke]");
    }
    if (threads < 1) die("--threads must be >= 1");

    // OpenBLAS and libgomp read their thread counts when they load: make the environment say n, re-executing if needed.
    std::string n = std::to_string(threads);
    const char* omp = std::getenv("OMP_NUM_THREADS");
    const char* blas = std::getenv("OPENBLAS_NUM_THREADS");
    if (!omp || n != omp || !blas || n != blas) {
        setenv("OMP_NUM_THREADS", n.c_str(), 1);
        setenv("OPENBLAS_NUM_THREADS", n.c_str(), 1);
        execv("/proc/self/exe", argv);
        die("re-exec failed: " + std::string(std::strerror(errno)));
    }
    at::set_num_threads(threads);

    verify_generator();
    std::vector<const Info*> selected;
    for (const Info& info : workloads()) {
        bool wanted = only.empty() || ("," + only + ",").find("," + std::string(info.id) + ",") != std::string::npos;
        if (wanted && (threads == 1 || info.threaded)) selected.push_back(&info);
    }

    if (smoke) {
        int failed = 0;
        for (const Info* info : selected) {
            auto w = info->make();
            w->setup();
            Check check;
            w->step(&check);
            std::vector<std::string> failures;
            for (const auto& [key, value, tol] : expected().at(info->id)) {
                auto it = std::find_if(check.begin(), check.end(), [&](const auto& p) { return p.first == key; });
                if (it == check.end() || !(std::fabs(it->second - value) <= tol)) {
                    char buf[200];
                    std::snprintf(buf, sizeof buf, "%s = %.17g, expected %.17g +- %.3g", key.c_str(), it == check.end() ? NAN : it->second, value, tol);
                    failures.push_back(buf);
                }
            }
            std::printf("%s %s %s %s threads=%d %s\n", failures.empty() ? "PASS" : "FAIL", info->id, info->name, kImpl, threads, json_check(check).c_str());
            for (auto& f : failures) std::printf("    %s\n", f.c_str());
            failed += !failures.empty();
        }
        return failed ? 1 : 0;
    }

    std::string env = env_json(threads);
    for (const Info* info : selected) {
        Result r = measure(*info);
        std::ostringstream o;
        o << "{\"workload\": \"" << info->id << "\", \"name\": \"" << info->name << "\", \"impl\": \"" << kImpl << "\", \"threads\": " << threads
          << ", \"run\": \"" << run << "\", \"variant\": \"" << variant << "\", \"median_ns\": " << json_fixed(r.median)
          << ", \"min_ns\": " << json_fixed(r.min) << ", \"max_ns\": " << json_fixed(r.max) << ", \"iters\": " << r.iters << ", \"reps\": " << kReps;
        if (info->nodes) o << ", \"ns_per_node\": " << json_number(r.median / info->nodes);
        if (info->bytes)
            o << ", \"bytes_min\": " << info->bytes << ", \"gbps\": " << json_number(info->bytes / r.median) << ", \"gbps_best\": " << json_number(info->bytes / r.min);
        if (info->flops)
            o << ", \"flops\": " << info->flops << ", \"gflops\": " << json_number(info->flops / r.median) << ", \"gflops_best\": " << json_number(info->flops / r.min);
        o << ", \"check\": " << json_check(r.check) << ", \"env\": " << env << "}";
        std::printf("%s\n", o.str().c_str());
        std::fflush(stdout);
    }
    return 0;
}
