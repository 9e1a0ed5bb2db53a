// shim.cpp wraps OpenCV's wechat_qrcode and zxing-cpp behind the C functions
// of shim.h. No C++ exception may cross into Go: each entry point catches
// everything and reports it as a message.
#define ZX_USE_UTF8 1

#include "shim.h"

#include <cstdlib>
#include <cstring>
#include <exception>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/wechat_qrcode.hpp>

#include <ZXing/ReadBarcode.h>

namespace {

char *dupstr(const std::string &s) {
	char *p = static_cast<char *>(std::malloc(s.size() + 1));
	if (p != nullptr) {
		std::memcpy(p, s.data(), s.size());
		p[s.size()] = 0;
	}
	return p;
}

cs_result fail(const char *what) {
	cs_result r{};
	r.err = dupstr(what);
	return r;
}

cs_result alloc(size_t n) {
	cs_result r{};
	if (n == 0) {
		return r;
	}
	r.codes = static_cast<cs_code *>(std::calloc(n, sizeof(cs_code)));
	if (r.codes == nullptr) {
		return fail("out of memory");
	}
	return r;
}

bool set(cs_code &c, int format, const std::string &text) {
	c.format = format;
	c.len = static_cast<int>(text.size());
	c.text = static_cast<char *>(std::malloc(text.size() + 1));
	if (c.text == nullptr) {
		return false;
	}
	std::memcpy(c.text, text.data(), text.size());
	return true;
}

// gray returns src as an 8-bit single-channel image, converting if needed.
cv::Mat gray(const cv::Mat &src) {
	if (src.type() == CV_8UC1) {
		return src;
	}
	cv::Mat g;
	switch (src.type()) {
	case CV_8UC3:
		cv::cvtColor(src, g, cv::COLOR_BGR2GRAY);
		break;
	case CV_8UC4:
		cv::cvtColor(src, g, cv::COLOR_BGRA2GRAY);
		break;
	default:
		throw std::invalid_argument("image is not 8-bit gray, BGR or BGRA");
	}
	return g;
}

} // namespace

extern "C" {

cs_wechat cs_wechat_new(char **err) {
	try {
		return new cv::wechat_qrcode::WeChatQRCode();
	} catch (const std::exception &e) {
		*err = dupstr(e.what());
	} catch (...) {
		*err = dupstr("unknown C++ exception");
	}
	return nullptr;
}

void cs_wechat_free(cs_wechat w) {
	delete static_cast<cv::wechat_qrcode::WeChatQRCode *>(w);
}

cs_result cs_wechat_decode(cs_wechat w, void *mat) {
	try {
		auto *wq = static_cast<cv::wechat_qrcode::WeChatQRCode *>(w);
		const cv::Mat &img = *static_cast<cv::Mat *>(mat);
		if (img.empty()) {
			return fail("empty image");
		}
		std::vector<cv::Mat> points;
		std::vector<std::string> texts = wq->detectAndDecode(gray(img), points);
		cs_result r = alloc(texts.size());
		if (r.err != nullptr) {
			return r;
		}
		for (size_t i = 0; i < texts.size(); i++) {
			cs_code &c = r.codes[r.n];
			if (!set(c, CS_QRCODE, texts[i])) {
				cs_result_free(r);
				return fail("out of memory");
			}
			r.n++;
			if (i < points.size() && points[i].rows == 4 && points[i].type() == CV_32FC1) {
				for (int k = 0; k < 4; k++) {
					c.x[k] = points[i].at<float>(k, 0);
					c.y[k] = points[i].at<float>(k, 1);
				}
			}
		}
		return r;
	} catch (const std::exception &e) {
		return fail(e.what());
	} catch (...) {
		return fail("unknown C++ exception");
	}
}

cs_result cs_zxing_read(void *mat, int formats, int try_harder, int try_rotate, int try_downscale, int min_line_count, int binarizer, int max_symbols) {
	try {
		const cv::Mat &img = *static_cast<cv::Mat *>(mat);
		if (img.empty()) {
			return fail("empty image");
		}
		cv::Mat g = gray(img);
		ZXing::ImageView view(g.data, g.cols, g.rows, ZXing::ImageFormat::Lum, static_cast<int>(g.step));
		ZXing::DecodeHints hints;
		hints.setFormats(static_cast<ZXing::BarcodeFormat>(formats));
		hints.setTryHarder(try_harder != 0);
		hints.setTryRotate(try_rotate != 0);
		hints.setTryDownscale(try_downscale != 0);
		hints.setMinLineCount(static_cast<uint8_t>(min_line_count));
		hints.setEanAddOnSymbol(ZXing::EanAddOnSymbol::Ignore);
		hints.setBinarizer(static_cast<ZXing::Binarizer>(binarizer));
		hints.setMaxNumberOfSymbols(static_cast<uint8_t>(max_symbols));
		ZXing::Results results = ZXing::ReadBarcodes(view, hints);
		cs_result r = alloc(results.size());
		if (r.err != nullptr) {
			return r;
		}
		for (const auto &res : results) {
			if (!res.isValid()) {
				continue;
			}
			cs_code &c = r.codes[r.n];
			if (!set(c, static_cast<int>(res.format()), res.text())) {
				cs_result_free(r);
				return fail("out of memory");
			}
			r.n++;
			const auto &pos = res.position();
			for (int k = 0; k < 4; k++) {
				c.x[k] = static_cast<float>(pos[k].x);
				c.y[k] = static_cast<float>(pos[k].y);
			}
		}
		return r;
	} catch (const std::exception &e) {
		return fail(e.what());
	} catch (...) {
		return fail("unknown C++ exception");
	}
}

void cs_result_free(cs_result r) {
	for (int i = 0; i < r.n; i++) {
		std::free(r.codes[i].text);
	}
	std::free(r.codes);
	std::free(r.err);
}

void cs_set_num_threads(int n) {
	cv::setNumThreads(n);
}

} // extern "C"
