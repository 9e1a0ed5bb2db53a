// shim.cpp wraps OpenCV's wechat_qrcode and zxing-cpp behind the C functions
// of shim.h. No C++ exception may cross into Go: each entry point catches
// everything and reports it as a message.
#define ZX_USE_UTF8 1

#include "shim.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <limits>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/core/hal/intrin.hpp>
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

// edges sets e[i] to 1 where b[i] exceeds a[i] by more than t, 2 where it
// falls short by more than t, else 0, with OpenCV's SIMD wrappers (SSE2 or
// NEON): most pixels of a frame are no edge, and the scan below skips them
// eight at a time.
void edges(const uint8_t *a, const uint8_t *b, int n, uint8_t t, uint8_t *e) {
	int i = 0;
#if CV_SIMD
	const cv::v_uint8 vt = cv::vx_setall_u8(t), one = cv::vx_setall_u8(1), two = cv::vx_setall_u8(2);
	for (; i + cv::v_uint8::nlanes <= n; i += cv::v_uint8::nlanes) {
		cv::v_uint8 x = cv::vx_load(a + i), y = cv::vx_load(b + i);
		// Saturating: a fall reads 0 as a rise.
		cv::v_uint8 up = y - x, down = x - y;
		cv::v_store(e + i, ((up > vt) & one) | ((down > vt) & two));
	}
	cv::vx_cleanup();
#endif
	for (; i < n; i++) {
		int d = int(b[i]) - int(a[i]);
		e[i] = uint8_t(d > t ? 1 : (d < -t ? 2 : 0));
	}
}

// chain is the state of one row or column: the sign of the last edge,
// where it was, and how many alternating edges led to it.
struct chain {
	uint8_t sign = 0;
	int at = std::numeric_limits<int>::min() / 2;
	int n = 0;
};

// step adds the edge of sign s at position i to c and returns the chain's
// length.
inline int step(chain &c, uint8_t s, int i, int gap) {
	if (s != c.sign) {
		// A blurred edge spans several pixels of one sign: only a
		// change of sign starts another edge.
		c.n = i - c.at <= gap ? c.n + 1 : 1;
		c.sign = s;
	}
	c.at = i;
	return c.n;
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

int cs_edge_chain(void *mat, int threshold, int gap, int row_step) {
	try {
		const cv::Mat &img = *static_cast<cv::Mat *>(mat);
		if (img.empty() || img.type() != CV_8UC1 || row_step < 1) {
			return -1;
		}
		const int w = img.cols, h = img.rows;
		const uint8_t t = static_cast<uint8_t>(std::clamp(threshold, 0, 255));
		// Padded so the scan can read whole 8-byte words.
		std::vector<uint8_t> e(w + 8, 0);
		auto scan = [&](int n, auto &&visit) {
			for (int i = 0; i < n;) {
				uint64_t word;
				std::memcpy(&word, &e[i], 8);
				if (word == 0) {
					i += 8;
					continue;
				}
				for (int k = i; k < i + 8 && k < n; k++) {
					if (e[k] != 0) {
						visit(k, e[k]);
					}
				}
				i += 8;
			}
		};
		int best = 0;
		for (int y = 0; w > 2 && y < h; y += row_step) {
			const uint8_t *p = img.ptr<uint8_t>(y);
			edges(p, p + 2, w - 2, t, e.data());
			std::fill(e.begin() + (w - 2), e.end(), 0);
			chain c;
			scan(w - 2, [&](int i, uint8_t s) { best = std::max(best, step(c, s, i, gap)); });
		}
		// Columns are walked row by row, one state per column, to read
		// memory in order.
		std::vector<chain> cols(w);
		for (int y = row_step; y + 1 < h; y += row_step) {
			edges(img.ptr<uint8_t>(y - 1), img.ptr<uint8_t>(y + 1), w, t, e.data());
			scan(w, [&](int x, uint8_t s) { best = std::max(best, step(cols[x], s, y, gap)); });
		}
		return best;
	} catch (...) {
		return -1;
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
