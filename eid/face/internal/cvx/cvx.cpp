#include <cstdio>
#include <opencv2/core.hpp>
#include <opencv2/objdetect.hpp>
#include "cvx.h"

static void put_err(const char *msg, char *err, int errlen) {
	if (err != nullptr && errlen > 0) {
		std::snprintf(err, errlen, "%s", msg);
	}
}

void cvx_set_num_threads(int n) { cv::setNumThreads(n); }

int cvx_get_num_threads(void) { return cv::getNumThreads(); }

cvx_yunet cvx_yunet_new(const char *model, float score, float nms, int topk, char *err, int errlen) {
	try {
		cv::Ptr<cv::FaceDetectorYN> d = cv::FaceDetectorYN::create(model, "", cv::Size(320, 320), score, nms, topk);
		if (d.empty()) {
			put_err("FaceDetectorYN::create returned nothing", err, errlen);
			return nullptr;
		}
		return new cv::Ptr<cv::FaceDetectorYN>(d);
	} catch (const cv::Exception &e) {
		put_err(e.what(), err, errlen);
	} catch (...) {
		put_err("unknown C++ exception", err, errlen);
	}
	return nullptr;
}

int cvx_yunet_detect(cvx_yunet d, void *mat, float *out, int max, char *err, int errlen) {
	try {
		cv::Ptr<cv::FaceDetectorYN> &det = *static_cast<cv::Ptr<cv::FaceDetectorYN> *>(d);
		cv::Mat &img = *static_cast<cv::Mat *>(mat);
		det->setInputSize(img.size());
		cv::Mat faces;
		det->detect(img, faces);
		if (faces.empty()) {
			return 0;
		}
		if (faces.cols != 15 || faces.type() != CV_32F) {
			put_err("unexpected output shape from FaceDetectorYN", err, errlen);
			return -1;
		}
		int n = faces.rows < max ? faces.rows : max;
		for (int i = 0; i < n; i++) {
			const float *row = faces.ptr<float>(i);
			for (int j = 0; j < 15; j++) {
				out[i * 15 + j] = row[j];
			}
		}
		return n;
	} catch (const cv::Exception &e) {
		put_err(e.what(), err, errlen);
	} catch (...) {
		put_err("unknown C++ exception", err, errlen);
	}
	return -1;
}

void cvx_yunet_free(cvx_yunet d) { delete static_cast<cv::Ptr<cv::FaceDetectorYN> *>(d); }
