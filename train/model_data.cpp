#include "train/model_data.h"

#include "engine/check.h"

namespace rf::train {

models::DataDescription describe_data(const data::Dataset& train, const data::Normalization& norm) {
  models::DataDescription d;
  d.height = train.height;
  d.width = train.width;
  d.channels = train.channels;
  d.mean = norm.mean;
  d.stddev = norm.stddev;
  d.class_names = train.classes;
  return d;
}

data::Normalization normalization_of(const models::DataDescription& d) { return {d.mean, d.stddev}; }

data::Dataset fit_to_model(const data::Dataset& d, const models::DataDescription& model,
                           const std::string& model_file, const std::function<void(const std::string&)>& log) {
  RF_CHECK(d.classes == model.class_names,
           d.name << ": its classes differ from those of the model " << model_file
                  << " (the model's labels would not mean the dataset's)");
  RF_CHECK(d.channels == model.channels || (d.channels == 1 && model.channels == 3),
           d.name << ": images of " << d.channels << " channels, the model " << model_file
                  << " takes " << model.channels);
  data::Dataset out = data::resize_dataset(d, {model.height, model.width});
  if (out.height != d.height || out.width != d.width)
    log(d.name + ": images resized from " + data::size_text({d.height, d.width}) + " to the model's " +
        data::size_text({model.height, model.width}) + " (HxW; antialiased bilinear, data/image_resize.h)");
  if (out.channels != model.channels) {
    out = data::to_three_channels(out);
    log(d.name + ": grayscale images replicated to the model's 3 channels");
  }
  return out;
}

}  // namespace rf::train
