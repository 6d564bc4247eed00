/* The bench's own Node addon for the boundary figures (bench/run.mjs builds
 * it into .cache/bench/boundary.node against node_modules/node-api-headers
 * and the C core files it calls; never part of iovh).
 *
 * cLoop: the C side of every boundary figure. The same C core function the
 * addon calls (core/memfd.c, core/vfio.c), through a volatile function
 * pointer so that every call is made, on the same fd, in the same process
 * and thread as the JavaScript loop it is compared with. Not a C program of
 * its own: a process whose only thread owns its file table gets every fd
 * lookup without taking a reference on the struct file (fs/file.c
 * __fget_light: "files->count == 1" borrows the file; otherwise
 * __fget_files takes a reference and fdput drops it), and Node always has
 * threads (libuv's, V8's platform workers). bench/ioctl.c, a single-threaded
 * C program, measures what that alone is worth (figure boundary.c_process).
 *
 * addSeals(fd, seals): the least any Node-API binding of fcntl(F_ADD_SEALS)
 * with two arguments can do: napi_get_cb_info, two napi_get_value_int32, no
 * checks at all, the call, undefined or -errno (figure boundary.napi_floor).
 * addSealsFixed(): the same with no argument at all, on the fd given to
 * setFd(): what a Node-API call that makes this system call costs, the floor
 * of the addon's scalar forms (core/binding.cc; figure boundary.napi_call).
 * empty(): a Node-API function that does nothing (its cost is in the detail
 * of boundary.napi_call). */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>
#include <time.h>

#include "iovh.h"

typedef int (*call_fn)(int fd);

static int api_version(int fd)
{
	return __vfio_get_api_version(fd);
}

static int add_seals(int fd)
{
	return __memfd_add_seals(fd, 0);
}

static const call_fn kinds[] = { api_version, add_seals };
#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

/* Through a volatile pointer, so the loop makes every call. */
static call_fn volatile do_call;

static int fixed_fd = -1;

static int32_t int_arg(napi_env env, napi_value v)
{
	int32_t x = -1;

	napi_get_value_int32(env, v, &x);
	return x;
}

/* cLoop(kind, fd, calls): ns per call of one timed loop of `calls` calls
 * (kind 0: VFIO_GET_API_VERSION, 1: F_ADD_SEALS 0); cLoop(kind, fd, 0): the
 * result of one call (>= 0, or -errno). */
static napi_value c_loop(napi_env env, napi_callback_info info)
{
	size_t argc = 3;
	napi_value argv[3], out = NULL;
	int32_t kind, fd, calls;
	struct timespec t0, t1;

	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	kind = int_arg(env, argv[0]);
	fd = int_arg(env, argv[1]);
	calls = int_arg(env, argv[2]);
	if (kind < 0 || (size_t)kind >= NKINDS || calls < 0) {
		napi_throw_range_error(env, NULL, "cLoop(kind 0|1, fd, calls >= 0)");
		return NULL;
	}
	do_call = kinds[kind];
	if (calls == 0) {
		napi_create_int32(env, do_call(fd), &out);
		return out;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int32_t i = 0; i < calls; i++)
		do_call(fd);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	napi_create_double(env, ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / calls, &out);
	return out;
}

static napi_value add_seals_napi(napi_env env, napi_callback_info info)
{
	size_t argc = 2;
	napi_value argv[2], out = NULL;
	int32_t fd = -1, seals = 0;

	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	napi_get_value_int32(env, argv[0], &fd);
	napi_get_value_int32(env, argv[1], &seals);
	if (fcntl(fd, F_ADD_SEALS, seals) == -1)
		napi_create_int32(env, -errno, &out);
	return out;
}

static napi_value add_seals_fixed(napi_env env, napi_callback_info info)
{
	napi_value out = NULL;

	(void)info;
	if (fcntl(fixed_fd, F_ADD_SEALS, 0) == -1)
		napi_create_int32(env, -errno, &out);
	return out;
}

static napi_value set_fd(napi_env env, napi_callback_info info)
{
	size_t argc = 1;
	napi_value argv[1];

	napi_get_cb_info(env, info, &argc, argv, NULL, NULL);
	fixed_fd = int_arg(env, argv[0]);
	return NULL;
}

static napi_value empty(napi_env env, napi_callback_info info)
{
	(void)env;
	(void)info;
	return NULL;
}

static napi_value init(napi_env env, napi_value exports)
{
	static const struct {
		const char *name;
		napi_callback cb;
	} fns[] = {
		{ "cLoop", c_loop },
		{ "addSeals", add_seals_napi },
		{ "addSealsFixed", add_seals_fixed },
		{ "setFd", set_fd },
		{ "empty", empty },
	};

	for (size_t i = 0; i < sizeof(fns) / sizeof(fns[0]); i++) {
		napi_value fn;

		if (napi_create_function(env, fns[i].name, NAPI_AUTO_LENGTH, fns[i].cb, NULL, &fn) == napi_ok)
			napi_set_named_property(env, exports, fns[i].name, fn);
	}
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
