/* The least any Node-API binding of fcntl(F_ADD_SEALS) can do, for the
 * boundary.napi_floor figure: read two arguments (napi_get_cb_info, two
 * napi_get_value_int32, no checks at all), make the call, return undefined
 * or -errno. The addon's addSeals does this plus its argument checks and
 * error shapes; the figure says how much of the addon's ratio to the C loop
 * is Node-API's own (V8's API call, the callback wrapper, the argument
 * reads) and not the binding's. Built by bench/run.mjs into .cache/bench
 * against node_modules/node-api-headers; never part of iovh. */
#define _GNU_SOURCE
#define NAPI_VERSION 8
#include <errno.h>
#include <fcntl.h>
#include <node_api.h>

static napi_value add_seals(napi_env env, napi_callback_info info)
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

static napi_value init(napi_env env, napi_value exports)
{
	napi_value fn;

	if (napi_create_function(env, "addSeals", NAPI_AUTO_LENGTH, add_seals, NULL, &fn) == napi_ok)
		napi_set_named_property(env, exports, "addSeals", fn);
	return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
