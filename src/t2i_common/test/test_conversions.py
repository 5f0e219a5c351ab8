import numpy as np
import pytest

from t2i_common.conversions import (array_to_bytes_fields, bytes_fields_to_array, compressed_to_image,
                                    image_to_compressed, image_to_msg, msg_to_image)


def test_image_round_trip_is_exact_and_sized():
    image = np.random.default_rng(0).integers(0, 256, (37, 53, 3), dtype=np.uint8)
    msg = image_to_msg(image, frame_id='edge')
    assert (msg.height, msg.width, msg.step, msg.encoding) == (37, 53, 159, 'rgb8')
    assert np.array_equal(msg_to_image(msg), image)


def test_bgr_and_padded_rows_are_read_correctly():
    image = np.random.default_rng(1).integers(0, 256, (4, 5, 3), dtype=np.uint8)
    msg = image_to_msg(image[..., ::-1].copy())
    msg.encoding = 'bgr8'
    padded = np.zeros((4, 16), np.uint8)
    padded[:, :15] = np.frombuffer(msg.data, np.uint8).reshape(4, 15)
    msg.step, msg.data = 16, padded.tobytes()
    assert np.array_equal(msg_to_image(msg), image)


def test_malformed_image_is_a_clear_error():
    msg = image_to_msg(np.zeros((4, 4, 3), np.uint8))
    msg.height = 5
    with pytest.raises(ValueError, match='expected'):
        msg_to_image(msg)
    msg.encoding = '16UC1'
    with pytest.raises(ValueError, match='unsupported'):
        msg_to_image(msg)


def test_png_is_lossless():
    image = np.random.default_rng(2).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    assert np.array_equal(compressed_to_image(image_to_compressed(image, 'png')), image)


def test_tensor_round_trip_and_size_check():
    latent = np.random.default_rng(3).standard_normal((4, 8, 6)).astype(np.float32)
    shape, dtype, data = array_to_bytes_fields(latent)
    assert np.array_equal(bytes_fields_to_array(shape, dtype, data), latent)
    with pytest.raises(ValueError, match='needs'):
        bytes_fields_to_array([4, 8, 7], dtype, data)
    with pytest.raises(ValueError, match='dtype'):
        bytes_fields_to_array(shape, 'notatype', data)
