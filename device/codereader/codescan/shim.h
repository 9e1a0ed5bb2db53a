// shim.h is the C face of the C++ code this package calls: OpenCV's
// wechat_qrcode module and zxing-cpp. cgo cannot call C++ directly, and
// gocv has no binding for either.
#ifndef GUICHET_CODESCAN_SHIM_H
#define GUICHET_CODESCAN_SHIM_H

#ifdef __cplusplus
extern "C" {
#endif

// Format values are zxing-cpp's BarcodeFormat bits; QR codes found by
// WeChatQRCode use the same value as zxing-cpp's QRCode.
enum {
	CS_CODE128 = 1 << 4,
	CS_EAN8 = 1 << 8,
	CS_EAN13 = 1 << 9,
	CS_QRCODE = 1 << 13,
	CS_UPCA = 1 << 14,
	CS_UPCE = 1 << 15,
};

typedef struct {
	int format;
	char *text; // malloc'd, not NUL-terminated: use len
	int len;
	// Corners of the symbol in the image, clockwise from top-left (for 1D
	// codes: the ends of the scan lines that read it).
	float x[4], y[4];
} cs_code;

typedef struct {
	cs_code *codes; // malloc'd array of n codes
	int n;
	char *err; // malloc'd message when the C++ side threw, else NULL
} cs_result;

typedef void *cs_wechat;

// cs_wechat_new makes a WeChatQRCode without CNN models (its traditional
// detector). It returns NULL and sets *err on failure.
cs_wechat cs_wechat_new(char **err);
void cs_wechat_free(cs_wechat w);
// cs_wechat_decode detects and decodes QR codes in mat, a cv::Mat* holding
// an 8-bit gray or BGR image.
cs_result cs_wechat_decode(cs_wechat w, void *mat);

// cs_zxing_read reads the barcodes of the given formats in mat (a cv::Mat*
// holding an 8-bit gray or BGR image) with zxing-cpp.
//
// Debian's zxing-cpp 1.4.0 is built with assertions on, and
// Result::operator== asserts (aborting the process) when ReadBarcodes
// compares two reads of the same linear code that each span several lines
// (zxing-cpp issues 516 and 740). Callers avoid that path: linear formats
// are read with max_symbols 1 and without try_rotate or try_downscale,
// which are then done by the caller.
cs_result cs_zxing_read(void *mat, int formats, int try_harder, int try_rotate, int try_downscale, int min_line_count, int binarizer, int max_symbols);

// cs_edge_chain returns the longest chain of edges of alternating sign
// along a row or a column of mat (a cv::Mat* holding an 8-bit gray image):
// each edge a change of more than threshold grey levels over two pixels,
// at most gap pixels after the previous one. It looks at every
// row_step-th row, and down every column at those rows. It returns -1 if
// mat is not 8-bit gray, or on any failure.
int cs_edge_chain(void *mat, int threshold, int gap, int row_step);

void cs_result_free(cs_result r);

// cs_set_num_threads is cv::setNumThreads.
void cs_set_num_threads(int n);

#ifdef __cplusplus
}
#endif

#endif
