// Declarations of the C side of package cvx: OpenCV calls that gocv v0.31.0
// does not wrap.
#ifndef GUICHET_CVX_H
#define GUICHET_CVX_H

#ifdef __cplusplus
extern "C" {
#endif

void cvx_set_num_threads(int n);
int cvx_get_num_threads(void);

typedef void *cvx_yunet;
// cvx_yunet_new returns NULL and a message in err on failure.
cvx_yunet cvx_yunet_new(const char *model, float score, float nms, int topk, char *err, int errlen);
// cvx_yunet_detect writes up to max rows of 15 floats (box x, y, w, h,
// 5 landmarks x, y, score) to out and returns the number of faces found, or
// -1 with a message in err.
int cvx_yunet_detect(cvx_yunet d, void *mat, float *out, int max, char *err, int errlen);
void cvx_yunet_free(cvx_yunet d);

#ifdef __cplusplus
}
#endif

#endif
