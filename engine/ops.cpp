#include "engine/ops.h"

#include <climits>

#include "engine/check.h"
#include "engine/profiler.h"

namespace rf {
namespace {

using profiler::Op;
// Times one backend call under `op` when the profiler is on (engine/profiler.h).
using Prof = profiler::Scope;

Tensor empty_like(const Tensor& t) { return Tensor::empty(t.shape(), t.device(), t.dtype()); }

// Runs f.template operator()<T>() with T the element type of `dtype` (float or BF16): an op's
// body written once for both.
template <class F>
void by_dtype(DType dtype, F&& f) {
  if (dtype == DType::F32)
    f.template operator()<float>();
  else
    f.template operator()<BF16>();
}

// The elements of an optional input, or null.
template <class T>
const T* data_or_null(const Variable& v) {
  return v.defined() ? v.value().data_as<T>() : nullptr;
}

// Where one backend call writes an op's parameter gradients (engine/backend.h, `accumulate`):
// added straight into the parameters' bound gradient buffers when every gradient the call
// writes is wanted and has one, and `in_place` (the call runs where add_grad would sum them:
// Variable::grad_buffer); else into new tensors that hand_over() passes to add_grad. written[i]:
// the call writes params[i]'s gradient even when nobody wants it (then never into its buffer).
class ParamGrads {
 public:
  ParamGrads(std::vector<Variable> params, const std::vector<bool>& written, bool in_place)
      : params_(std::move(params)), out_(params_.size()) {
    accumulate_ = in_place;
    for (size_t i = 0; i < params_.size(); ++i)
      if (writes(i, written))
        accumulate_ = accumulate_ && params_[i].requires_grad() && params_[i].grad_buffer().defined();
    for (size_t i = 0; i < params_.size(); ++i)
      if (writes(i, written))
        out_[i] = accumulate_ ? params_[i].grad_buffer() : empty_like(params_[i].value());
  }
  bool accumulate() const { return accumulate_; }
  float* data(size_t i) { return out_[i].defined() ? out_[i].data() : nullptr; }
  void hand_over() {
    if (accumulate_) return;
    for (size_t i = 0; i < params_.size(); ++i)
      if (params_[i].requires_grad()) params_[i].add_grad(out_[i]);
  }

 private:
  bool writes(size_t i, const std::vector<bool>& written) const {
    return params_[i].requires_grad() || (params_[i].defined() && written[i]);
  }
  std::vector<Variable> params_;
  std::vector<Tensor> out_;
  bool accumulate_ = false;
};

void check_same_dtype(const Tensor& a, const Tensor& b, const char* op) {
  RF_CHECK(a.dtype() == b.dtype(),
           op << ": inputs of " << dtype_name(a.dtype()) << " and " << dtype_name(b.dtype()));
}

void check_same_device(const Variable& a, const Variable& b, const char* op) {
  RF_CHECK(a.value().device() == b.value().device(),
           op << ": inputs on " << device_name(a.value().device()) << " and "
              << device_name(b.value().device()));
}

void check_ndim(const Variable& x, int n, const char* op, const char* what) {
  RF_CHECK(x.value().ndim() == n,
           op << ": " << what << " must have " << n << " dimensions, got "
              << shape_str(x.shape()));
}

}  // namespace

Variable add(const Variable& a, const Variable& b) {
  check_same_device(a, b, "add");
  check_same_dtype(a.value(), b.value(), "add");
  RF_CHECK(a.shape() == b.shape(),
           "add: shapes " << shape_str(a.shape()) << " and " << shape_str(b.shape()));
  const Tensor& av = a.value();
  Tensor y = empty_like(av);
  {
    const Prof p(Op::add, av.device());
    by_dtype(av.dtype(), [&]<class T>() {
      av.backend().add(y.numel(), av.data_as<T>(), b.value().data_as<T>(), y.data_as<T>());
    });
  }
  return Variable::from_op(y, {a, b}, [](std::vector<Variable>& in, const Tensor& g) {
    for (Variable& v : in)
      if (v.requires_grad()) v.add_grad(g);
  });
}

Variable scale(const Variable& x, float alpha) {
  const Tensor& xv = x.value();
  Tensor y = empty_like(xv);
  {
    const Prof p(Op::scale, xv.device());
    xv.backend().scale(y.numel(), alpha, xv.data(), y.data());
  }
  return Variable::from_op(y, {x}, [alpha](std::vector<Variable>& in, const Tensor& g) {
    Tensor dx = empty_like(g);
    {
      const Prof p(Op::scale, g.device());
      g.backend().scale(g.numel(), alpha, g.data(), dx.data());
    }
    in[0].add_grad(dx);
  });
}

Variable relu(const Variable& x) {
  const Tensor& xv = x.value();
  Tensor y = empty_like(xv);
  {
    const Prof p(Op::relu_forward, xv.device());
    by_dtype(xv.dtype(), [&]<class T>() { xv.backend().relu_forward(y.numel(), xv.data_as<T>(), y.data_as<T>()); });
  }
  return Variable::from_op(y, {x}, [y](std::vector<Variable>& in, const Tensor& g) {
    Tensor dx = empty_like(g);
    {
      const Prof p(Op::relu_backward, g.device());
      by_dtype(g.dtype(), [&]<class T>() {
        g.backend().relu_backward(g.numel(), y.data_as<T>(), g.data_as<T>(), dx.data_as<T>());
      });
    }
    in[0].add_grad(dx);
  });
}

Variable cast(const Variable& x, DType to) {
  const Tensor& xv = x.value();
  if (xv.dtype() == to) return x;
  Tensor y = Tensor::empty(xv.shape(), xv.device(), to);
  {
    const Prof p(Op::cast, xv.device());
    if (to == DType::BF16)
      xv.backend().cast(y.numel(), xv.data(), y.data_bf16());
    else
      xv.backend().cast(y.numel(), xv.data_bf16(), y.data());
  }
  return Variable::from_op(y, {x}, [from = xv.dtype()](std::vector<Variable>& in, const Tensor& g) {
    Tensor dx = Tensor::empty(g.shape(), g.device(), from);
    {
      const Prof p(Op::cast, g.device());
      if (from == DType::BF16)
        g.backend().cast(g.numel(), g.data(), dx.data_bf16());
      else
        g.backend().cast(g.numel(), g.data_bf16(), dx.data());
    }
    in[0].add_grad(dx);
  });
}

Variable conv2d(const Variable& x, const Variable& w, const Variable& bias, int stride, int pad) {
  check_ndim(x, 4, "conv2d", "input");
  check_ndim(w, 4, "conv2d", "filter");
  check_same_device(x, w, "conv2d");
  const Tensor& xv = x.value();
  const Tensor& wv = w.value();
  // Filters are float32; a bf16 input convolves the filter's bf16 rounding (mixed precision's
  // master weights).
  RF_CHECK(wv.dtype() == DType::F32, "conv2d: a " << dtype_name(wv.dtype())
                                                  << " filter (filters are float32)");
  const bool round_filter = xv.dtype() == DType::BF16;
  const Shape& xs = x.shape();
  const Shape& ws = w.shape();
  RF_CHECK(ws[3] == xs[3], "conv2d: filter " << shape_str(ws) << " expects " << ws[3]
                                             << " input channels, input is " << shape_str(xs));
  RF_CHECK(stride >= 1 && pad >= 0, "conv2d: stride " << stride << ", pad " << pad);
  ConvGeom geom{int(xs[0]), int(xs[1]), int(xs[2]), int(xs[3]), int(ws[0]), int(ws[1]),
                int(ws[2]), stride, pad};
  RF_CHECK(geom.p() > 0 && geom.q() > 0,
           "conv2d: filter " << shape_str(ws) << " larger than padded input " << shape_str(xs));
  if (bias.defined()) {
    check_same_device(x, bias, "conv2d");
    RF_CHECK(bias.value().dtype() == DType::F32,
             "conv2d: a " << dtype_name(bias.value().dtype()) << " bias (biases are float32)");
    RF_CHECK(bias.shape() == Shape{ws[0]}, "conv2d: bias " << shape_str(bias.shape())
                                                           << " for " << ws[0] << " channels");
  }
  Backend& be = xv.backend();
  // The filter as convolved: wv, or its bf16 rounding (kept for the backward pass).
  Tensor filter = wv;
  if (round_filter) {
    filter = Tensor::empty(ws, wv.device(), DType::BF16);
    const Prof p(Op::cast, wv.device());
    be.cast(filter.numel(), wv.data(), filter.data_bf16());
  }
  Tensor y = Tensor::empty({xs[0], geom.p(), geom.q(), ws[0]}, xv.device(), xv.dtype());
  {
    const Prof p(Op::conv2d_forward, xv.device());
    by_dtype(y.dtype(), [&]<class T>() {
      be.conv2d_forward(geom, xv.data_as<T>(), filter.data_as<T>(),
                        bias.defined() ? bias.value().data() : nullptr, y.data_as<T>());
    });
  }
  return Variable::from_op(
      y, {x, w, bias}, [geom, filter](std::vector<Variable>& in, const Tensor& g) {
        Backend& be = g.backend();
        // The data gradient first: the rest of the pass waits for it.
        if (in[0].requires_grad()) {
          Tensor dx = empty_like(in[0].value());
          {
            const Prof p(Op::conv2d_backward_data, g.device());
            by_dtype(g.dtype(), [&]<class T>() {
              be.conv2d_backward_data(geom, g.data_as<T>(), filter.data_as<T>(), dx.data_as<T>());
            });
          }
          in[0].add_grad(dx);
        }
        const bool want_w = in[1].requires_grad(), want_b = in[2].requires_grad();
        if (want_w || want_b) {
          // The filter's and bias' gradients: by value, what the work reads (it may run later).
          auto filter_grads = [geom, x = in[0].value(), g, w = in[1], b = in[2]] {
            // The backend writes dw even when only the bias' gradient is wanted.
            ParamGrads grads({w, b}, {true, false}, true);
            {
              const Prof p(Op::conv2d_backward_filter, g.device());
              by_dtype(g.dtype(), [&]<class T>() {
                g.backend().conv2d_backward_filter(geom, x.data_as<T>(), g.data_as<T>(),
                                                   grads.data(0), grads.data(1),
                                                   grads.accumulate());
              });
            }
            grads.hand_over();
          };
          // Gradients that end in parameters are read by nothing later in the pass: they run
          // alongside the data gradients (Backend::run_concurrently), unless an op made the
          // filter or bias (its closure would read the gradient before the work ran).
          const bool ends = (!want_w || in[1].is_leaf()) && (!want_b || in[2].is_leaf());
          if (ends)
            be.run_concurrently(std::move(filter_grads));
          else
            filter_grads();
        }
      });
}

namespace {

// The batch norm of x, and when `relu`, its ResNet epilogue relu(bn(x) + residual) (residual may
// be undefined) as one backend op.
Variable batchnorm_op(const Variable& x, const Variable& gamma, const Variable& beta,
                      Tensor& running_mean, Tensor& running_var, bool training, float momentum,
                      float eps, bool relu, const Variable& residual) {
  const Tensor& xv = x.value();
  const int c = int(xv.dim(-1));
  const int64_t rows = c > 0 ? xv.numel() / c : 0;
  // An NHWC activation keeps its (n, h, w); any other input is a [rows, c] matrix.
  RF_CHECK(c > 0 && rows > 0 && rows <= INT_MAX,
           "batchnorm: unsupported input " << shape_str(xv.shape()));
  const BnGeom geom = xv.ndim() == 4
                          ? BnGeom{int(xv.dim(0)), int(xv.dim(1)), int(xv.dim(2)), c}
                          : BnGeom{int(rows), 1, 1, c};
  const Tensor* per_channel[] = {&gamma.value(), &beta.value(), &running_mean, &running_var};
  for (const Tensor* t : per_channel) {
    RF_CHECK(t->shape() == Shape{c}, "batchnorm: per-channel tensor " << shape_str(t->shape())
                                                                      << " for input "
                                                                      << shape_str(xv.shape()));
    RF_CHECK(t->device() == xv.device(), "batchnorm: parameters and input on different devices");
  }
  if (residual.defined()) {
    check_same_device(x, residual, "batchnorm_add_relu");
    check_same_dtype(xv, residual.value(), "batchnorm_add_relu");
    RF_CHECK(residual.shape() == xv.shape(), "batchnorm_add_relu: residual "
                                                 << shape_str(residual.shape()) << " for input "
                                                 << shape_str(xv.shape()));
  }
  // T below: the element type of x, residual, y and their gradients; gamma, beta and statistics
  // are float32 either way.
  Backend& be = xv.backend();
  Tensor y = empty_like(xv);
  if (!training) {
    {
      const Prof p(Op::batchnorm_forward, xv.device());
      by_dtype(xv.dtype(), [&]<class T>() {
        if (relu)
          be.batchnorm_relu_forward_eval(geom, xv.data_as<T>(), data_or_null<T>(residual),
                                         gamma.value().data(), beta.value().data(),
                                         running_mean.data(), running_var.data(), eps, y.data_as<T>());
        else
          be.batchnorm_forward_eval(geom, xv.data_as<T>(), gamma.value().data(), beta.value().data(),
                                    running_mean.data(), running_var.data(), eps, y.data_as<T>());
      });
    }
    // Eval mode is for inference and labeling; gradients through frozen statistics are not
    // something this engine's training ever needs, so asking for them is an error, not a guess.
    const bool wants_grad = grad_enabled() && (x.requires_grad() || gamma.requires_grad() ||
                                               beta.requires_grad() || residual.requires_grad());
    RF_CHECK(!wants_grad, "batchnorm: eval mode under gradient recording; use a NoGrad scope");
    return Variable(y);
  }
  RF_CHECK(rows > 1, "batchnorm: training needs more than one value per channel, input "
                         << shape_str(xv.shape()));
  Tensor save_mean = Tensor::empty({c}, xv.device());
  Tensor save_invstd = Tensor::empty({c}, xv.device());
  {
    const Prof p(Op::batchnorm_forward, xv.device());
    by_dtype(xv.dtype(), [&]<class T>() {
      if (relu)
        be.batchnorm_relu_forward_train(geom, xv.data_as<T>(), data_or_null<T>(residual),
                                        gamma.value().data(), beta.value().data(), eps, momentum,
                                        running_mean.data(), running_var.data(), y.data_as<T>(),
                                        save_mean.data(), save_invstd.data());
      else
        be.batchnorm_forward_train(geom, xv.data_as<T>(), gamma.value().data(), beta.value().data(),
                                   eps, momentum, running_mean.data(), running_var.data(),
                                   y.data_as<T>(), save_mean.data(), save_invstd.data());
    });
  }
  std::vector<Variable> inputs{x, gamma, beta};
  if (residual.defined()) inputs.push_back(residual);
  // The closure keeps y only when the ReLU needs it for its mask.
  const Tensor relu_y = relu ? y : Tensor();
  return Variable::from_op(
      y, std::move(inputs),
      [geom, eps, save_mean, save_invstd, relu_y](std::vector<Variable>& in, const Tensor& g) {
        const Tensor& xv = in[0].value();
        Backend& be = g.backend();
        Tensor dx = empty_like(xv);
        // Written here, on the backward pass's own lane: in place only without concurrent work.
        ParamGrads grads({in[1], in[2]}, {true, true}, !be.concurrency());
        const bool want_residual = in.size() > 3 && in[3].requires_grad();
        Tensor dres = want_residual ? empty_like(xv) : Tensor();
        {
          const Prof p(Op::batchnorm_backward, g.device());
          by_dtype(xv.dtype(), [&]<class T>() {
            if (relu_y.defined())
              be.batchnorm_relu_backward(geom, xv.data_as<T>(), relu_y.data_as<T>(),
                                         g.data_as<T>(), in[1].value().data(), save_mean.data(),
                                         save_invstd.data(), eps, dx.data_as<T>(),
                                         want_residual ? dres.data_as<T>() : nullptr,
                                         grads.data(0), grads.data(1), grads.accumulate());
            else
              be.batchnorm_backward(geom, xv.data_as<T>(), g.data_as<T>(), in[1].value().data(),
                                    save_mean.data(), save_invstd.data(), eps, dx.data_as<T>(),
                                    grads.data(0), grads.data(1), grads.accumulate());
          });
        }
        if (in[0].requires_grad()) in[0].add_grad(dx);
        grads.hand_over();
        if (want_residual) in[3].add_grad(dres);
      });
}

}  // namespace

Variable batchnorm(const Variable& x, const Variable& gamma, const Variable& beta,
                   Tensor& running_mean, Tensor& running_var, bool training, float momentum,
                   float eps) {
  return batchnorm_op(x, gamma, beta, running_mean, running_var, training, momentum, eps, false,
                      Variable());
}

Variable batchnorm_relu(const Variable& x, const Variable& gamma, const Variable& beta,
                        Tensor& running_mean, Tensor& running_var, bool training, float momentum,
                        float eps, const Variable& residual) {
  return batchnorm_op(x, gamma, beta, running_mean, running_var, training, momentum, eps, true,
                      residual);
}

Variable maxpool2d(const Variable& x, int window, int stride, int pad) {
  check_ndim(x, 4, "maxpool2d", "input");
  const Shape& xs = x.shape();
  RF_CHECK(window >= 1 && stride >= 1 && pad >= 0 && pad < window,
           "maxpool2d: window " << window << ", stride " << stride << ", pad " << pad);
  PoolGeom geom{int(xs[0]), int(xs[1]), int(xs[2]), int(xs[3]), window, stride, pad};
  RF_CHECK(geom.p() > 0 && geom.q() > 0,
           "maxpool2d: window " << window << " larger than padded input " << shape_str(xs));
  Tensor y = Tensor::empty({xs[0], geom.p(), geom.q(), xs[3]}, x.value().device(), x.value().dtype());
  {
    const Prof p(Op::pool_forward, x.value().device());
    by_dtype(y.dtype(), [&]<class T>() {
      x.value().backend().maxpool_forward(geom, x.value().data_as<T>(), y.data_as<T>());
    });
  }
  return Variable::from_op(y, {x}, [geom](std::vector<Variable>& in, const Tensor& g) {
    Tensor dx = empty_like(in[0].value());
    {
      const Prof p(Op::pool_backward, g.device());
      by_dtype(g.dtype(), [&]<class T>() {
        g.backend().maxpool_backward(geom, in[0].value().data_as<T>(), g.data_as<T>(), dx.data_as<T>());
      });
    }
    in[0].add_grad(dx);
  });
}

Variable global_avgpool(const Variable& x) {
  check_ndim(x, 4, "global_avgpool", "input");
  const Shape& xs = x.shape();
  const int n = int(xs[0]), hw = int(xs[1] * xs[2]), c = int(xs[3]);
  Tensor y = Tensor::empty({xs[0], xs[3]}, x.value().device());  // float32 whatever x is
  {
    const Prof p(Op::pool_forward, x.value().device());
    by_dtype(x.value().dtype(), [&]<class T>() {
      x.value().backend().global_avgpool_forward(n, hw, c, x.value().data_as<T>(), y.data());
    });
  }
  return Variable::from_op(y, {x}, [n, hw, c](std::vector<Variable>& in, const Tensor& g) {
    Tensor dx = empty_like(in[0].value());
    {
      const Prof p(Op::pool_backward, g.device());
      by_dtype(dx.dtype(), [&]<class T>() {
        g.backend().global_avgpool_backward(n, hw, c, g.data(), dx.data_as<T>());
      });
    }
    in[0].add_grad(dx);
  });
}

Variable flatten(const Variable& x) {
  const Tensor& xv = x.value();
  const Shape in_shape = xv.shape();
  Tensor y = xv.reshape({xv.dim(0), xv.numel() / xv.dim(0)});
  return Variable::from_op(y, {x}, [in_shape](std::vector<Variable>& in, const Tensor& g) {
    in[0].add_grad(g.reshape(in_shape));
  });
}

Variable linear(const Variable& x, const Variable& w, const Variable& b) {
  check_ndim(x, 2, "linear", "input");
  check_ndim(w, 2, "linear", "weight");
  check_same_device(x, w, "linear");
  const int n = int(x.value().dim(0)), in = int(x.value().dim(1)), out = int(w.value().dim(0));
  RF_CHECK(w.value().dim(1) == in, "linear: weight " << shape_str(w.shape()) << " for input "
                                                     << shape_str(x.shape()));
  if (b.defined())
    RF_CHECK(b.shape() == Shape{out},
             "linear: bias " << shape_str(b.shape()) << " for " << out << " outputs");
  Tensor y = Tensor::empty({n, out}, x.value().device());
  {
    const Prof p(Op::linear_forward, x.value().device());
    x.value().backend().linear_forward(n, in, out, x.value().data(), w.value().data(),
                                       b.defined() ? b.value().data() : nullptr, y.data());
  }
  return Variable::from_op(y, {x, w, b}, [n, in, out](std::vector<Variable>& v, const Tensor& g) {
    Backend& be = g.backend();
    Tensor dx = v[0].requires_grad() ? empty_like(v[0].value()) : Tensor();
    // Written here, on the backward pass's own lane: in place only without concurrent work.
    ParamGrads grads({v[1], v[2]}, {false, false}, !be.concurrency());
    {
      const Prof p(Op::linear_backward, g.device());
      be.linear_backward(n, in, out, v[0].value().data(), v[1].value().data(), g.data(),
                         dx.defined() ? dx.data() : nullptr, grads.data(0), grads.data(1),
                         grads.accumulate());
    }
    if (dx.defined()) v[0].add_grad(dx);
    grads.hand_over();
  });
}

Variable softmax(const Variable& x) {
  check_ndim(x, 2, "softmax", "input");
  const int64_t rows = x.value().dim(0);
  const int cols = int(x.value().dim(1));
  Tensor y = empty_like(x.value());
  {
    const Prof p(Op::softmax_forward, x.value().device());
    x.value().backend().softmax_forward(rows, cols, x.value().data(), y.data());
  }
  return Variable::from_op(y, {x}, [rows, cols, y](std::vector<Variable>& in, const Tensor& g) {
    Tensor dx = empty_like(g);
    {
      const Prof p(Op::softmax_backward, g.device());
      g.backend().softmax_backward(rows, cols, y.data(), g.data(), dx.data());
    }
    in[0].add_grad(dx);
  });
}

Variable softmax_cross_entropy(const Variable& logits, const Tensor& targets) {
  check_ndim(logits, 2, "softmax_cross_entropy", "logits");
  const Tensor& lv = logits.value();
  RF_CHECK(targets.shape() == lv.shape(), "softmax_cross_entropy: targets "
                                              << shape_str(targets.shape()) << " for logits "
                                              << shape_str(lv.shape()));
  RF_CHECK(targets.device() == lv.device(), "softmax_cross_entropy: targets on another device");
  const int64_t rows = lv.dim(0);
  const int cols = int(lv.dim(1));
  RF_CHECK(rows > 0 && cols > 0, "softmax_cross_entropy: empty logits " << shape_str(lv.shape()));
  Tensor loss = Tensor::empty({}, lv.device());
  const bool want_grad = grad_enabled() && logits.requires_grad();
  Tensor dlogits = want_grad ? empty_like(lv) : Tensor();
  {
    const Prof p(Op::softmax_xent, lv.device());
    lv.backend().softmax_xent(rows, cols, lv.data(), targets.data(), loss.data(),
                              want_grad ? dlogits.data() : nullptr);
  }
  return Variable::from_op(loss, {logits}, [dlogits](std::vector<Variable>& in, const Tensor& g) {
    // The fused forward already wrote d(loss)/d(logits); only the upstream scalar is applied.
    Tensor dx = empty_like(dlogits);
    {
      const Prof p(Op::softmax_xent, g.device());
      g.backend().scale_by(dx.numel(), g.data(), dlogits.data(), dx.data());
    }
    in[0].add_grad(dx);
  });
}

}  // namespace rf
