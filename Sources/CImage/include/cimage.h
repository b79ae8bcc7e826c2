int ck_image_dummy(void);
